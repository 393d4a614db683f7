"""The health endpoint of a running agent: it shrugs off malformed requests and floods, and
says why it is not ready."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.request
from pathlib import Path

from agent.health.server import Probes
from agent.pipeline import Agent
from agent.settings import load_config
from tests.harness import AgentProcess, free_port, wait_until


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
