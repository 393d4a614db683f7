"""What export settings may hold: no credentials in the endpoint (exit 2, the value never
echoed), a query string that is sent but never printed, and headers checked at start-up so a
value HTTP/2 or gRPC cannot carry is one line and exit 2, not a failure of every batch."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from agent.config.endpoint import scrub, shown
from agent.settings import load_settings
from tests.cycles import drained, exporter, push
from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Receiver, free_port

SECRET = "s3cr3t"


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "agent", "check", *args], env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "args", "named"), [
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://user:{SECRET}@collector:4317"}, (),
     "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"ADK_AGENT_ENDPOINT": f"user:{SECRET}@collector:4317"}, (), "ADK_AGENT_ENDPOINT"),
    ({}, ("--endpoint", f"https://{SECRET}@collector:4317/v1/metrics?token={SECRET}"),
     "--endpoint"),
])
def test_credentials_in_the_endpoint_are_refused_and_never_shown(
        env: dict[str, str], args: tuple[str, ...], named: str) -> None:
    r = check(env, *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"adk-agent: error: {named}")
    assert "credentials in the URL" in r.stderr and "collector:4317" in r.stderr
    assert SECRET not in r.stderr + r.stdout


def test_a_query_string_is_sent_but_never_printed(tmp_path: Path, agents: list) -> None:
    """`check`, the start-up line, the export warning and /health show the URL without it."""
    dead = free_port()
    endpoint = f"http://127.0.0.1:{dead}/v1/metrics?token={SECRET}"
    r = check({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL":
               "http/protobuf"}, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["settings"]["endpoint"] == \
        f"http://127.0.0.1:{dead}/v1/metrics"
    assert SECRET not in check({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}).stdout  # text too
    health = free_port()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                          "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{health}",
                          "ADK_AGENT_INTERVAL": "200ms", "ADK_AGENT_SOURCES": "memory",
                          "ADK_AGENT_EXPORT_TIMEOUT": "1s", "ADK_AGENT_SHUTDOWN_TIMEOUT": "300ms"},
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "failed" in agent.stderr(), 20), agent.stderr()

    def document() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/health", timeout=5) as reply:
            return json.loads(reply.read())

    assert wait_until(lambda: document()["export_failures"] > 0, 20)
    doc = json.dumps(document())
    assert "refused" in doc.lower() and SECRET not in doc
    assert agent.terminate() == 0
    err = agent.stderr()
    assert f"to http://127.0.0.1:{dead}/v1/metrics" in err and SECRET not in err


def test_shown_and_scrub() -> None:
    url = f"https://u:{SECRET}@host:4318/v1/metrics?token={SECRET}#frag"
    assert shown(url) == "https://host:4318/v1/metrics"
    assert shown("host:4317") == "http://host:4317"
    text = f"POST {url} failed; token={SECRET}"
    assert SECRET not in scrub(text, url) and "host:4318/v1/metrics" in scrub(text, url)


@pytest.mark.parametrize(("env", "named", "reason"), [
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SECRET}%0Aevil: 1"},
     "OTEL_EXPORTER_OTLP_HEADERS", "control character"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SECRET}%00"}, "OTEL_EXPORTER_OTLP_HEADERS",
     "control character"),
    ({"ADK_AGENT_HEADERS": f"x-api-key={SECRET}%0D"}, "ADK_AGENT_HEADERS", "control character"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SECRET}%C3%A9"}, "OTEL_EXPORTER_OTLP_HEADERS",
     "not printable ASCII"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"X Tenant={SECRET}"}, "OTEL_EXPORTER_OTLP_HEADERS",
     "not a valid gRPC metadata key"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"connection={SECRET}"}, "OTEL_EXPORTER_OTLP_HEADERS",
     "not allowed"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SECRET}%0A", "OTEL_EXPORTER_OTLP_PROTOCOL":
      "http/protobuf"}, "OTEL_EXPORTER_OTLP_HEADERS", "control character"),
])
def test_headers_http_cannot_carry_exit_2_without_their_value(
        env: dict[str, str], named: str, reason: str) -> None:
    r = check(env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"adk-agent: error: {named}")
    assert reason in r.stderr and SECRET not in r.stderr + r.stdout


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_a_bad_line_in_the_headers_file(tmp_path: Path, client: str) -> None:
    headers = tmp_path / "headers"
    headers.write_bytes(b"x-tenant=acme\nx-api-key=" + SECRET.encode() + b"\x00\n")
    r = check({"ADK_AGENT_HEADERS_FILE": str(headers), "ADK_AGENT_GRPC_CLIENT": client})
    assert r.returncode == 2 and r.stderr.startswith("adk-agent: error: ADK_AGENT_HEADERS_FILE")
    assert "'x-api-key'" in r.stderr and SECRET not in r.stderr


def test_header_names_are_lower_cased_and_values_trimmed() -> None:
    s = load_settings(headers={"X-Tenant": " acme ", "Authorization": "Bearer\tabc"},
                      protocol="http/protobuf")
    assert {k: v.get_secret_value() for k, v in s.headers.items()} == {
        "x-tenant": "acme", "authorization": "Bearer\tabc"}  # HTAB is fine in HTTP
    with pytest.raises(Exception, match="not printable ASCII"):
        load_settings(headers={"authorization": "Bearer\tabc"})  # but not in gRPC metadata


def test_a_headers_file_that_turns_bad_keeps_the_previous_headers(
        receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A Secret update with a value HTTP cannot carry: one warning naming the header, the
    previous headers stay, nothing stops."""
    headers = tmp_path / "headers"
    headers.write_text("x-api-key=first\n")
    with exporter(f"http://{receiver.endpoint}", headers_file=str(headers)) as exp, \
            caplog.at_level(logging.WARNING, logger="agent.export"):
        push(exp, range(1))
        assert drained(exp) and receiver.metadata[-1]["x-api-key"] == "first"
        bad = tmp_path / "headers.new"
        bad.write_bytes(b"x-api-key=" + SECRET.encode() + b"\x00tail\n")
        os.utime(bad, (headers.stat().st_mtime + 5,) * 2)
        bad.replace(headers)
        push(exp, range(1, 3))
        assert drained(exp), exp.status
    assert [m["x-api-key"] for m in receiver.metadata] == ["first"] * 3
    assert "header 'x-api-key' holds a control character" in caplog.text
    assert "keeping the previous headers" in caplog.text and SECRET not in caplog.text
