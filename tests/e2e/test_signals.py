"""Signals to a running agent: SIGTERM early in the start still ends in a final export and exit
0; SIGHUP restarts with a valid configuration and keeps the running one otherwise; SIGUSR1,
SIGUSR2 and SIGALRM change nothing; the runner keeps no header secrets in its environment."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Receiver


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def test_sigterm_while_the_settings_load_ends_in_a_final_export(receiver: Receiver,
                                                                 agents: list,
                                                                 tmp_path: Path) -> None:
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": "1h", "ADK_AGENT_SOURCES": "memory"},
                         workdir=tmp_path)
    agents.append(agent)
    # pydantic is loaded only by the command that validates the settings, never by the runner
    assert wait_until(lambda: "pydantic_core" in _maps(agent.proc.pid), 20, poll=0.002)
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(30) == 0, agent.stderr()
    assert receiver.points("system.memory.usage"), "no final export"
    assert "stopping: final export" in agent.stderr()


def test_sighup_restarts_with_a_valid_configuration_only(receiver: Receiver, agents: list,
                                                         tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("service_name: first\n")
    headers = "authorization=Bearer s3cret"
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_CONFIG": str(config), "ADK_AGENT_INTERVAL": "200ms",
                          "ADK_AGENT_SOURCES": "memory", "OTEL_EXPORTER_OTLP_HEADERS": headers},
                         workdir=tmp_path)
    agents.append(agent)
    pid = agent.proc.pid

    def served(name: str) -> bool:
        return any(p.resource.get("service.name") == name for p in receiver.points())

    assert wait_until(lambda: served("first"), 20), agent.stderr()
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"s3cret" not in environ and b"OTEL_EXPORTER_OTLP_HEADERS" not in environ
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
        os.kill(pid, sig)  # meaningless here: ignored
    config.write_text("service_name: second\n")
    os.kill(pid, signal.SIGHUP)
    assert wait_until(lambda: served("second"), 30), agent.stderr()
    assert agent.proc.poll() is None and agent.proc.pid == pid  # the same process
    assert receiver.metadata[-1].get("authorization") == "Bearer s3cret"  # headers kept
    config.write_text("service_name: third\nmax_series: 0\n")  # not valid
    os.kill(pid, signal.SIGHUP)
    assert wait_until(lambda: "the agent keeps running as it is" in agent.stderr(), 30)
    receiver.clear()
    assert wait_until(lambda: served("second"), 10) and not served("third")
    assert agent.terminate() == 0
    err = agent.stderr()
    assert "Traceback" not in err
    assert err.count("restarting with it") == 1
    assert "key 'max_series' = '0': Input should be greater than or equal to 1" in err
