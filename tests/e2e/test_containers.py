"""Pods and containers end to end: `adk-agent run` on a host root with a node's cgroup tree and
kubelet logs (tests/fixtures/hostroot + tests/fixtures/cgroup-systemd), pushing through a real
Rotel collector to the in-test receiver: the series, their values and their identity arrive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.catalog import BY_NAME
from agent.sources.base import Kind
from tests.collector import Rotel
from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Point, Receiver
from tests.unit.rig import node_root

MIB = 1 << 20
POD_A, POD_B = "1f3a0c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "2b4c6d8e-0a1b-4c2d-9e3f-405162738495"
A1, A2, B1, D1 = "a1" * 32, "a2" * 32, "b1" * 32, "d1" * 32
WEB = {"k8s.namespace.name": "shop", "k8s.pod.name": "web-7d4b9c-x2x5q", "k8s.pod.uid": POD_A}
BATCH = {"k8s.namespace.name": "jobs", "k8s.pod.name": "batch-28512345-abcde",
         "k8s.pod.uid": POD_B}
KIND = {Kind.COUNTER: ("sum", True), Kind.UPDOWN: ("sum", False), Kind.GAUGE: ("gauge", None)}


def last_cycle(points: list[Point]) -> list[Point]:
    newest = max(p.time_unix_nano for p in points)
    return [p for p in points if p.time_unix_nano == newest]


def test_pods_and_containers_reach_the_collector_with_their_identity(
        receiver: Receiver, rotel: Rotel, agents: list, tmp_path: Path) -> None:
    root = node_root(tmp_path / "root", "cgroup-systemd")
    agent = AgentProcess({
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint, "ADK_AGENT_INTERVAL": "500ms",
        "ADK_AGENT_ROOT_PATH": str(root), "ADK_AGENT_NAMESPACES_EXCLUDE": "kube-*",
        "ADK_AGENT_METRICS_ENABLED": "container.disk.io",
    }, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: len({p.time_unix_nano for p in receiver.points(
        "k8s.pod.cpu.time")}) >= 3, 30), agent.stderr()

    memory = {p.attributes["container.id"]: p for p in
              last_cycle(receiver.points("container.memory.usage"))}
    # no sandbox, no crio-conmon, no kube-system (filtered): the workloads and a docker container
    assert set(memory) == {A1, A2, B1, D1}
    assert memory[A1].attributes == {**WEB, "k8s.container.name": "app", "container.id": A1}
    assert memory[B1].attributes == {**BATCH, "k8s.container.name": "worker",
                                     "container.id": B1}
    assert memory[D1].attributes == {"container.id": D1}
    assert memory[A1].value == 100 * MIB
    cpu = {(p.attributes["container.id"], p.attributes["cpu.mode"]): p.value
           for p in last_cycle(receiver.points("container.cpu.time"))}
    assert cpu[(A1, "user")] == 3.5 and cpu[(B1, "system")] == 1.05
    io = {(p.attributes["container.id"], p.attributes["system.device"],
           p.attributes["disk.io.direction"]): p.value
          for p in last_cycle(receiver.points("container.disk.io"))}
    assert io[(A1, "sda", "write")] == 4_194_304  # the device named from sys/dev/block
    pods = {p.attributes["k8s.pod.uid"]: p for p in
            last_cycle(receiver.points("k8s.pod.memory.oom_kills"))}
    assert set(pods) == {POD_A, POD_B} and pods[POD_A].attributes == WEB
    assert pods[POD_A].value == 3
    stalls = {p.attributes["system.linux.pressure.stall_type"]: p.value
              for p in last_cycle(receiver.points("system.cpu.linux.pressure.total"))}
    assert stalls == {"some": 98.765432}  # the host's, from <root>/proc/pressure

    points = receiver.points()
    for p in points:
        if BY_NAME[p.name].source == "containers":
            m = BY_NAME[p.name]
            assert (p.kind, p.monotonic) == KIND[m.kind], p.name
            assert p.unit == m.unit and set(p.attributes) <= set(m.attributes), p.name
    # one resource, the host's: identity travels on the points
    assert {json.dumps(p.resource, sort_keys=True) for p in points} == {
        json.dumps(points[0].resource, sort_keys=True)}
    assert points[0].resource["host.name"] and "k8s.container.name" not in points[0].resource
    assert agent.terminate() == 0
    err = agent.stderr()
    assert "containers: 3 pods and 5 containers under" in err and "Traceback" not in err


def test_once_json_shows_the_identity_with_each_point(tmp_path: Path) -> None:
    root = node_root(tmp_path / "root", "cgroup-cgroupfs")
    r = subprocess.run([sys.executable, "-m", "agent", "once", "--format", "json",
                        "--root-path", str(root)], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "ADK_AGENT_SOURCES": "containers"})
    assert r.returncode == 0, r.stderr
    metrics = {m["name"]: m["points"] for m in json.loads(r.stdout)["metrics"]}
    (api,) = [p for p in metrics["k8s.container.memory.limit.current"]
              if p["attributes"].get("k8s.container.name") == "api"]
    assert api == {"value": 64 * MIB, "attributes": {
        "k8s.namespace.name": "default", "k8s.pod.name": "api-5c9f8d7b6-qwert",
        "k8s.pod.uid": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "k8s.container.name": "api",
        "container.id": "e1" * 32}}
