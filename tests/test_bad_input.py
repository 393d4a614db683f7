"""Bad input of every kind: the agent runs or exits 2 with one line; the health endpoint
shrugs off malformed requests and floods."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.settings import ConfigError, load_config, load_settings
from tests.harness import AgentProcess, free_port, wait_until

VARIABLES = [
    "ADK_AGENT_INTERVAL", "ADK_AGENT_EXPORT_TIMEOUT", "ADK_AGENT_ENDPOINT", "ADK_AGENT_PROTOCOL",
    "ADK_AGENT_HEADERS", "ADK_AGENT_PROCESSES", "ADK_AGENT_SOURCES", "ADK_AGENT_METRICS_ENABLED",
    "ADK_AGENT_HEALTH_ADDRESS", "ADK_AGENT_QUEUE_MAX_BATCHES", "ADK_AGENT_PER_CPU",
    "ADK_AGENT_SOURCE_INTERVALS__FILESYSTEM", "ADK_AGENT_ROOT_PATH", "ADK_AGENT_MAX_SERIES",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_INSECURE", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_EXPORTER_OTLP_COMPRESSION",
]
# Values near the edges of what each setting takes, mixed with arbitrary text.
EDGY = st.sampled_from([
    "", " ", "0", "-1", "1e309", "nan", "10", "10s", "500ms", "1m", "99999999999999999999",
    "http://", "http://:4317", "https://h:0", "h:4317", "grpc", "http/protobuf", "a=b", "a=b,c",
    "=x", "k=%zz", "self", "pid:1", "name:[", "cmdline:.*", "cpu,,memory", "[\"cpu\"]", "[1,",
    "true", "false", "yes", "/nonexistent", "/", "{}", "\x7f", "é", "a" * 300,
])
VALUES = st.one_of(EDGY, st.text(max_size=40).filter(lambda s: "\x00" not in s))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("ADK_AGENT_", "OTEL_")):
            monkeypatch.delenv(key)


@settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(env=st.dictionaries(st.sampled_from(VARIABLES), VALUES, max_size=5))
def test_any_environment_loads_or_names_the_culprit(env: dict[str, str]) -> None:
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        try:
            load_settings()
        except ConfigError as exc:
            text = str(exc)
            assert "\n" not in text and "Traceback" not in text
            assert any(var in text for var in env) or "configuration" in text, (text, env)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["interval", "endpoint", "processes", "headers",
                                             "sources", "resource_attributes", "per_cpu",
                                             "queue_max_batches", "bogus"]),
                            st.one_of(VALUES, st.integers(), st.lists(VALUES, max_size=3),
                                      st.dictionaries(VALUES, VALUES, max_size=2), st.none()),
                            max_size=4))
def test_any_config_file_loads_or_names_the_key(tmp_path_factory: pytest.TempPathFactory,
                                                body: dict) -> None:
    path = tmp_path_factory.mktemp("cfg") / "agent.json.yaml"
    path.write_text(json.dumps(body))  # JSON is YAML
    os.environ["ADK_AGENT_CONFIG"] = str(path)
    try:
        load_settings()
    except ConfigError as exc:
        assert "\n" not in str(exc) and "Traceback" not in str(exc)
    finally:
        del os.environ["ADK_AGENT_CONFIG"]


@pytest.mark.parametrize("env", [
    {"ADK_AGENT_INTERVAL": "1e309"}, {"OTEL_EXPORTER_OTLP_HEADERS": "=x"},
    {"ADK_AGENT_CONFIG": "/etc"}, {"ADK_AGENT_QUEUE_MAX_BATCHES": "0"},
    {"ADK_AGENT_HEALTH_ADDRESS": "256.0.0.1:99"}, {"ADK_AGENT_PROCESSES": "pid:-1"},
])
def test_the_command_exits_2_with_one_line(env: dict[str, str]) -> None:
    full = {k: v for k, v in os.environ.items()}
    full.update(env)
    r = subprocess.run([sys.executable, "-m", "agent", "run"], env=full, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize(("variable", "named"), [
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "ADK_AGENT_CERTIFICATE"),
    ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "ADK_AGENT_CLIENT_CERTIFICATE"),
])
def test_a_certificate_file_that_is_not_one(tmp_path: Path, variable: str, named: str) -> None:
    garbage = tmp_path / "not-a.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:4317", variable: str(garbage),
                "ADK_AGENT_HEALTH_ADDRESS": ""})
    if "CLIENT" in variable:  # the key goes with it
        env["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = str(garbage)
    r = subprocess.run([sys.executable, "-m", "agent", "run"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and named in r.stderr and str(garbage) in r.stderr


def test_health_endpoint_survives_garbage_and_floods(agents: list, tmp_path: Path) -> None:
    port = free_port()
    agent = AgentProcess({"ADK_AGENT_EXPORTER": "none", "ADK_AGENT_INTERVAL": "200ms",
                          "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}"}, workdir=tmp_path)
    agents.append(agent)
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(url + path, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert wait_until(lambda: _ok(get, "/readyz"), 20), agent.stderr()
    for raw in (b"GARBAGE\r\n\r\n", b"GET /health HTTP/1.1\r\n" + b"X: " + b"a" * 70000
                + b"\r\n\r\n", b"GET " + b"/" * 10000 + b" HTTP/1.1\r\n\r\n", b"\x16\x03\x01",
                b"GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(raw)
            s.settimeout(5)
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                s.recv(1024)
    # a silent client that never sends does not block the others
    idle = socket.create_connection(("127.0.0.1", port))
    codes: list[int] = []

    def hammer() -> None:
        for _ in range(50):
            codes.append(get("/health"))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    idle.close()
    assert codes.count(200) == 400
    with urllib.request.urlopen(url + "/health", timeout=5) as r:
        doc = json.loads(r.read())
    assert doc["last_collection_age_seconds"] < 2  # collection went on throughout
    assert get("/healthz") == 200
    assert agent.terminate() == 0


def _ok(get: object, path: str) -> bool:
    try:
        return get(path) == 200  # type: ignore[operator]
    except OSError:
        return False


def test_wedged_loop_turns_liveness_503(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.health import Probes
    from agent.pipeline import Agent

    agent = Agent(load_config(exporter="none", interval="1s", export_timeout="1s"))
    probes = Probes(agent)
    assert probes.alive()[0]
    agent.last_collect = time.monotonic() - 60  # no collection for a minute
    ok, why = probes.alive()
    assert not ok and "no collection for" in why


def test_readiness_says_why_not() -> None:
    from agent.health import Probes
    from agent.pipeline import Agent

    agent = Agent(load_config(endpoint="http://127.0.0.1:1", interval="1s", export_timeout="1s",
                              health_address=""))
    agent.start()
    try:
        probes = Probes(agent)
        ok, why = probes.ready()
        assert not ok and why == "no export yet"
        agent.collect_now()  # to a port where nothing listens
        assert wait_until(lambda: agent.exporter.status.exports > 0, 15)
        ok, why = probes.ready()
        assert not ok and why.startswith("no successful export yet:")
        assert probes.alive()[0]  # not exporting is not being wedged
    finally:
        agent.shutdown(timeout=0.5)
