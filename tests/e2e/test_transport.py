"""Transport: TLS that verifies by default, mTLS over gRPC and HTTP, and headers that come
from a file and change while the agent runs, never shown anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.harness import AgentProcess, HttpReceiver, make_certs, wait_until
from tests.otlp_receiver import Receiver


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_receiver(certs: dict[str, Path]) -> Iterator[Receiver]:
    creds = grpc.ssl_server_credentials(
        [(certs["key"].read_bytes(), certs["cert"].read_bytes())],
        root_certificates=certs["ca"].read_bytes(), require_client_auth=True)
    r = Receiver(credentials=creds).start()
    yield r
    r.stop()


def mtls_env(certs: dict[str, Path]) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(certs["ca"]),
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(certs["client_cert"]),
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(certs["client_key"]),
            "ADK_AGENT_INTERVAL": "200ms", "ADK_AGENT_EXPORT_TIMEOUT": "1s",
            "ADK_AGENT_SOURCES": "memory", "ADK_AGENT_SHUTDOWN_TIMEOUT": "500ms"}


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_grpc_mtls(tls_receiver: Receiver, certs: dict[str, Path], agents: list,
                   tmp_path: Path, client: str) -> None:
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"https://{tls_receiver.endpoint}",
                          "ADK_AGENT_GRPC_CLIENT": client, **mtls_env(certs)},
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "system.memory.usage" in tls_receiver.names(), 20), agent.stderr()
    assert agent.terminate() == 0


def test_grpc_tls_without_client_cert_is_refused(tls_receiver: Receiver, certs: dict[str, Path],
                                                 agents: list, tmp_path: Path) -> None:
    env = mtls_env(certs)
    del env["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"], env["OTEL_EXPORTER_OTLP_CLIENT_KEY"]
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"https://{tls_receiver.endpoint}",
                          **env}, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "failed" in agent.stderr(), 20), agent.stderr()
    assert tls_receiver.snapshot() == []
    assert agent.terminate() == 0


def test_https_verifies_the_server_by_default(tls_receiver: Receiver, agents: list,
                                              tmp_path: Path) -> None:
    # no CA given: the system trust store does not know our test CA, so nothing is sent
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"https://{tls_receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": "200ms", "ADK_AGENT_EXPORT_TIMEOUT": "1s",
                          "ADK_AGENT_SOURCES": "memory", "ADK_AGENT_SHUTDOWN_TIMEOUT": "500ms"},
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "failed" in agent.stderr(), 20), agent.stderr()
    assert tls_receiver.snapshot() == []
    assert agent.terminate() == 0


def test_http_mtls(certs: dict[str, Path], agents: list, tmp_path: Path) -> None:
    receiver = HttpReceiver(tls=certs).start()
    try:
        agent = AgentProcess({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": receiver.endpoint,
                              "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                              **mtls_env(certs)}, workdir=tmp_path)
        agents.append(agent)
        assert wait_until(lambda: len(receiver.requests) >= 2, 20), agent.stderr()
        assert agent.terminate() == 0
    finally:
        receiver.stop()


def test_headers_from_a_file_are_reloaded_and_never_logged(receiver: Receiver, agents: list,
                                                           tmp_path: Path) -> None:
    headers = tmp_path / "headers"
    headers.write_text("x-api-key=first-secret\n# a comment\nx-tenant=acme\n")
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_HEADERS_FILE": str(headers),
                          "ADK_AGENT_LOG_LEVEL": "debug",
                          "ADK_AGENT_INTERVAL": "200ms", "ADK_AGENT_SOURCES": "memory"},
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: any(m.get("x-api-key") == "first-secret"
                                  for m in receiver.metadata), 20), agent.stderr()
    assert receiver.metadata[-1]["x-tenant"] == "acme"
    replacement = tmp_path / "headers.new"  # a Secret update swaps the file
    replacement.write_text("x-api-key=second-secret\n")
    replacement.replace(headers)
    assert wait_until(lambda: receiver.metadata[-1].get("x-api-key") == "second-secret", 20)
    assert agent.terminate() == 0
    err = agent.stderr()
    assert "headers reloaded" in err
    assert "first-secret" not in err and "second-secret" not in err
