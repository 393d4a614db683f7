"""What the long-running process loads, which is most of what it costs in memory: never
pydantic (settings are validated before the re-exec), never grpcio unless asked for, never the
OpenTelemetry SDK, and the protobuf runtime only to split a request or read a reply that is not
empty. RSS itself is measured by the benchmark (bench/run.py), not asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import AgentProcess
from tests.otlp_receiver import Receiver


def mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize(("client", "grpcio_loaded"), [("h2", False), ("grpcio", True)])
def test_the_running_agent_loads_neither_pydantic_nor_grpcio_nor_protobuf(
        receiver: Receiver, agents: list, tmp_path: Path, client: str,
        grpcio_loaded: bool) -> None:
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_GRPC_CLIENT": client, "ADK_AGENT_INTERVAL": "200ms"},
                         workdir=tmp_path)
    agents.append(agent)
    assert receiver.wait_for(lambda r: len(r.requests) >= 2, 20), agent.stderr()
    maps = mapped(agent.proc.pid)  # the same pid: `run` re-executed itself
    assert "_pydantic_core" not in maps
    assert ("cygrpc" in maps) is grpcio_loaded
    # grpcio's stub takes messages: only there is the protobuf runtime loaded
    assert ("google/_upb" in maps) is grpcio_loaded
    assert agent.terminate() == 0


def test_the_running_agent_loads_no_opentelemetry_sdk() -> None:
    """The agent encodes OTLP itself: the SDK (and its exporters) are what the tests hold it
    against, never in the agent's process."""
    code = ("import sys; from agent.settings import load_config; from agent.pipeline import Agent;"
            "a = Agent(load_config(endpoint='http://127.0.0.1:9', health_address=''));"
            "a.start(); a.collect_now(); a.shutdown(timeout=0.1);"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
            " 'opentelemetry.exporter', 'opentelemetry.metrics'))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
