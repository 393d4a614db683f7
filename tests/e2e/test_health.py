"""The health endpoint of a running agent: it shrugs off malformed requests and floods, and
says why it is not ready."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from agent.health.server import Probes
from agent.pipeline import Agent
from agent.settings import load_config
from tests.harness import AgentProcess, free_port, wait_until
from tests.otlp_receiver import Receiver


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


def test_readiness_says_why_not() -> None:
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_and_resets_cost_nothing(receiver: Receiver, agents: list,
                                                   tmp_path: Path) -> None:
    port = free_port()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": "200ms", "ADK_AGENT_LOG_FORMAT": "json",
                          "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}"},
                         workdir=tmp_path, nofile=16)
    agents.append(agent)
    assert wait_until(lambda: len(receiver.cycles()) >= 2, 20), agent.stderr()
    # 30 idle connections under `ulimit -n 16`: the accept loop must neither spin nor take
    # the descriptors collection needs
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
    try:
        before, cycles, started = cpu_seconds(agent.proc.pid), len(receiver.cycles()), \
            time.monotonic()
        assert wait_until(lambda: len(receiver.cycles()) >= cycles + 10, 10), "collection paused"
        share = (cpu_seconds(agent.proc.pid) - before) / (time.monotonic() - started)
        assert share < 0.5, f"{share:.0%} of a core with idle health connections"
    finally:
        for s in idle:
            s.close()
    # requests whose clients reset the connection: log lines at most, never tracebacks
    linger = struct.pack("ii", 1, 0)
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)  # close sends RST
    assert wait_until(lambda: _ok(lambda p: _get(port, p), "/healthz"), 20)
    assert agent.terminate() == 0
    err = agent.stderr()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(json.loads(line)["message"] for line in lines), lines[:5]  # JSON, as asked
    assert len(lines) < 10, lines


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_ipv6_and_all_interfaces(agents: list, tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port()
    agent = AgentProcess({"ADK_AGENT_EXPORTER": "none",
                          "ADK_AGENT_HEALTH_ADDRESS": f"[::1]:{port}"}, workdir=tmp_path)
    agents.append(agent)

    def get() -> int:
        try:
            with urllib.request.urlopen(f"http://[::1]:{port}/healthz", timeout=5) as r:
                return r.status
        except OSError:
            return 0

    assert wait_until(lambda: get() == 200, 20), agent.stderr()
    assert agent.terminate() == 0
    assert "all interfaces" not in agent.stderr()
    port = free_port()
    agent = AgentProcess({"ADK_AGENT_EXPORTER": "none",
                          "ADK_AGENT_HEALTH_ADDRESS": f"0.0.0.0:{port}"}, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "all interfaces" in agent.stderr(), 20), agent.stderr()
    assert agent.terminate() == 0
    assert agent.stderr().count("all interfaces") == 1
