"""Nothing lost: the outage queue, its disk copy across restarts, and rejected batches."""

from __future__ import annotations

import json
import urllib.request
from itertools import pairwise
from pathlib import Path

import grpc

from tests.harness import AgentProcess, free_port, wait_until
from tests.otlp_receiver import Receiver


def queued(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            queue = json.loads(r.read())["queue"]
            return -1 if queue is None else int(queue["batches"])  # None: still starting
    except OSError:
        return -1


def agent_env(receiver: Receiver, port: int, **extra: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
            "ADK_AGENT_INTERVAL": "100ms", "ADK_AGENT_EXPORT_TIMEOUT": "200ms",
            "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}",
            "ADK_AGENT_SOURCES": "cpu,memory,system", **extra}


def test_120_cycles_of_outage_all_arrive_in_order_once(receiver: Receiver, agents: list,
                                                       tmp_path: Path) -> None:
    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)  # the collector is down
    port = free_port()
    agent = AgentProcess(agent_env(receiver, port), workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: queued(port) >= 120, 60), agent.stderr()
    receiver.recover()
    assert wait_until(lambda: queued(port) == 0 and len(receiver.cycles()) >= 120, 60), \
        agent.stderr()
    assert agent.terminate() == 0
    cycles = receiver.cycles()
    assert cycles == sorted(cycles), "replayed out of order"
    assert len(receiver.snapshot()) == len(cycles), "a cycle arrived twice"
    gaps = [(b - a) / 1e9 for a, b in pairwise(cycles)]
    assert max(gaps) < 1.0, f"cycles missing: largest gap {max(gaps):.2f}s"
    assert receiver.rejected > 0
    err = agent.stderr()
    assert err.count("WARNING") == 1 and "UNAVAILABLE" in err


def test_a_restart_loses_nothing_with_a_queue_dir(receiver: Receiver, agents: list,
                                                  tmp_path: Path) -> None:
    qdir = tmp_path / "queue"
    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)
    port = free_port()
    first = AgentProcess(agent_env(receiver, port, ADK_AGENT_QUEUE_DIR=str(qdir),
                                   ADK_AGENT_SHUTDOWN_TIMEOUT="500ms"), workdir=tmp_path)
    agents.append(first)
    assert wait_until(lambda: queued(port) >= 10, 30), first.stderr()
    assert first.terminate() == 0
    kept = sorted(qdir.glob("*.otlp"))
    assert len(kept) >= 10 and "kept in" in first.stderr()
    kept[0].write_bytes(kept[0].read_bytes()[:-5])  # a torn write
    receiver.recover()
    port = free_port()
    second = AgentProcess(agent_env(receiver, port, ADK_AGENT_QUEUE_DIR=str(qdir)),
                          workdir=tmp_path)
    agents.append(second)
    assert wait_until(lambda: len(receiver.cycles()) >= len(kept) + 5, 30), second.stderr()
    assert second.terminate() == 0
    cycles = receiver.cycles()
    assert cycles == sorted(cycles) and len(set(cycles)) == len(receiver.snapshot())
    assert "skipping unreadable queued batch" in second.stderr()
    assert not list(qdir.glob("*.otlp"))


def test_a_rejected_batch_is_dropped_not_retried(receiver: Receiver, agents: list,
                                                 tmp_path: Path) -> None:
    receiver.fail_with(grpc.StatusCode.INVALID_ARGUMENT, times=1)
    port = free_port()
    agent = AgentProcess(agent_env(receiver, port), workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: len(receiver.cycles()) >= 5, 30), agent.stderr()
    assert agent.terminate() == 0
    assert receiver.rejected == 1
    assert agent.stderr().count("rejected a batch") == 1


def test_a_second_signal_exits_at_once(receiver: Receiver, agents: list, tmp_path: Path) -> None:
    import signal
    import time

    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)  # the drain would wait out its minute
    port = free_port()
    agent = AgentProcess(agent_env(receiver, port, ADK_AGENT_SHUTDOWN_TIMEOUT="60s"),
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: queued(port) >= 2, 30), agent.stderr()
    agent.proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: "stopping" in agent.stderr(), 10)
    started = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(10) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
