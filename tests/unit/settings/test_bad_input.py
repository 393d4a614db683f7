"""Bad configuration of every kind, thrown at the settings in-process (hypothesis): it loads, or
it is one line that names the culprit. The command's exit status is in tests/e2e/test_cli.py."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.settings import ConfigError, load_settings

VARIABLES = [
    "ADK_AGENT_INTERVAL", "ADK_AGENT_EXPORT_TIMEOUT", "ADK_AGENT_ENDPOINT", "ADK_AGENT_PROTOCOL",
    "ADK_AGENT_HEADERS", "ADK_AGENT_PROCESSES", "ADK_AGENT_SOURCES", "ADK_AGENT_METRICS_ENABLED",
    "ADK_AGENT_HEALTH_ADDRESS", "ADK_AGENT_QUEUE_MAX_BATCHES", "ADK_AGENT_PER_CPU",
    "ADK_AGENT_SOURCE_INTERVALS__FILESYSTEM", "ADK_AGENT_ROOT_PATH", "ADK_AGENT_MAX_SERIES",
    "ADK_AGENT_SOURCE_INTERVALS", "ADK_AGENT_QUEUE_DIR", "ADK_AGENT_QUEUE_MAX_BYTES",
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
    "99ms", "100ms", "24h", "86401", "1e10", "9999999999h", "[::1]:13133", "[::1]", ":13133",
])
VALUES = st.one_of(EDGY, st.text(max_size=40).filter(lambda s: "\x00" not in s))


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


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
            assert any(var in text for var in env), (text, env)  # the variable, by name
    finally:
        os.environ.clear()
        os.environ.update(saved)


@settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["interval", "endpoint", "processes", "headers",
                                             "sources", "resource_attributes", "per_cpu",
                                             "queue_max_batches", "bogus", "queue_dir",
                                             "health_address", "shutdown_timeout"]),
                            st.one_of(VALUES, st.text(max_size=10), st.integers(),
                                      st.lists(VALUES, max_size=3),
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
        text = str(exc)
        assert "\n" not in text and "Traceback" not in text
        assert str(path) in text or "ADK_AGENT_CONFIG" in text, text  # names the file
    finally:
        del os.environ["ADK_AGENT_CONFIG"]




SECRET = "Bearer s3cret-token"


@settings(deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["headerz", "header", "HEADERS_", "otel_headers", "x"]),
       value=st.sampled_from([f"authorization={SECRET}", {"authorization": SECRET}, [SECRET]]))
def test_a_mistyped_key_never_shows_its_value(tmp_path_factory: pytest.TempPathFactory,
                                              key: str, value: object) -> None:
    path = tmp_path_factory.mktemp("cfg") / "agent.yaml"
    path.write_text(json.dumps({key: value}))
    os.environ["ADK_AGENT_CONFIG"] = str(path)
    try:
        with pytest.raises(ConfigError) as caught:
            load_settings()
    finally:
        del os.environ["ADK_AGENT_CONFIG"]
    assert f"key '{key}'" in str(caught.value) and "s3cret" not in str(caught.value)


def special(kind: str, where: Path) -> str:
    """A path that is not the regular file a setting expects."""
    path = where / f"special-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        return "/dev/null"
    elif kind == "not-utf8":
        path.write_bytes(b"authorization=caf\xe9\n")
        return str(path)
    elif kind == "unreadable":
        path.write_text("x=y\n")
        path.chmod(0)
    return str(path)  # "missing" too


@settings(deadline=None, max_examples=60,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(var=st.sampled_from(["ADK_AGENT_HEADERS_FILE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
                            "ADK_AGENT_CLIENT_KEY", "ADK_AGENT_CONFIG", "ADK_AGENT_ROOT_PATH"]),
       kind=st.sampled_from(["fifo", "directory", "device", "missing", "not-utf8",
                             "unreadable"]))
def test_a_file_setting_that_is_no_regular_file_never_hangs(
        tmp_path_factory: pytest.TempPathFactory, var: str, kind: str) -> None:
    os.environ[var] = special(kind, tmp_path_factory.mktemp("special"))
    if var == "ADK_AGENT_CLIENT_KEY":
        os.environ["ADK_AGENT_CLIENT_CERTIFICATE"] = os.environ[var]
    outcome: list[object] = []

    def load() -> None:
        try:
            outcome.append(load_settings())
        except ConfigError as exc:
            outcome.append(exc)

    try:
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        worker.join(10)
        assert outcome, f"{var} as a {kind} blocked the settings"
    finally:
        os.environ.pop(var)
        os.environ.pop("ADK_AGENT_CLIENT_CERTIFICATE", None)
    if isinstance(outcome[0], ConfigError):
        text = str(outcome[0])
        assert "\n" not in text and var in text, text
    else:  # what loads is what a user may mean: a readable file (or /dev/null as a root)
        assert kind in ("not-utf8", "unreadable") or var == "ADK_AGENT_ROOT_PATH", kind
