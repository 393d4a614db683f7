"""`adk-agent run` as a subprocess, pushing through a real Rotel collector to an in-test OTLP
receiver: names, kinds, units, attributes, resource, values, shutdown and outages."""

from __future__ import annotations

import json
import os
import urllib.request
from collections import defaultdict
from pathlib import Path

import psutil
import pytest

from agent.catalog import BY_NAME, select
from agent.settings import load_config
from agent.sources.base import Kind
from tests.collector import Rotel
from tests.harness import AgentProcess, free_port, wait_until
from tests.otlp_receiver import Point, Receiver
from tests.paths import HOSTROOT

KIND = {Kind.COUNTER: ("sum", True), Kind.UPDOWN: ("sum", False), Kind.GAUGE: ("gauge", None)}


def expected_names() -> set[str]:
    names = {m.name for m in select(load_config(exporter="none"))}
    if psutil.swap_memory().total == 0:
        names.discard("system.paging.utilization")  # no swap: no ratio to report
    if not Path("/proc/pressure").is_dir():  # a kernel without PSI (psi=0): nothing to report
        names -= {n for n in names if BY_NAME[n].source == "pressure"}
    # pods and containers only where this machine has some (tests/e2e/test_containers.py)
    return {n for n in names if BY_NAME[n].source != "containers"}


def by_series(points: list[Point]) -> dict[tuple, list[Point]]:
    series: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        series[(p.name, tuple(sorted(p.attributes.items())))].append(p)
    return series


def health(port: int, path: str = "/health") -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_grpc_push_through_rotel(receiver: Receiver, rotel: Rotel, agents: list,
                                 tmp_path: Path, client: str) -> None:
    agent = AgentProcess({
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint, "ADK_AGENT_GRPC_CLIENT": client,
        "ADK_AGENT_INTERVAL": "500ms",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test,team=sre",
        "APP_VERSION": "9.9.9", "GIT_COMMIT": "deadbeef",
        "K8S_NODE_NAME": "node-a", "K8S_POD_NAME": "adk-xyz", "K8S_NAMESPACE": "monitoring",
        "K8S_POD_UID": "1234-abcd",
    }, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: len(receiver.cycles()) >= 4, 30), agent.stderr()
    points = receiver.points()
    names = {p.name for p in points}
    missing = expected_names() - names
    assert not missing, missing
    for p in points:
        m = BY_NAME[p.name]
        assert (p.kind, p.monotonic) == KIND[m.kind], p.name
        assert p.unit == m.unit, p.name
        assert set(p.attributes) <= set(m.attributes), (p.name, p.attributes)
    res = points[0].resource
    assert res["service.name"] == "adk-agent"
    assert res["service.version"] == "9.9.9" and res["vcs.ref.head.revision"] == "deadbeef"
    assert res["k8s.node.name"] == "node-a" and res["k8s.pod.uid"] == "1234-abcd"
    assert res["k8s.namespace.name"] == "monitoring" and res["k8s.pod.name"] == "adk-xyz"
    assert res["deployment.environment.name"] == "test" and res["team"] == "sre"
    assert res["telemetry.distro.name"] == "adk-agent" and res["telemetry.sdk.language"] == "python"
    assert res["host.name"] and res["host.arch"] and res["os.type"] == "linux"
    assert res["service.instance.id"]
    if Path("/etc/machine-id").is_file() and Path("/etc/machine-id").read_text().strip():
        assert res["host.id"] == Path("/etc/machine-id").read_text().strip()
    # values: per cycle, memory used is the limit less what is available, CPU shares add to one
    by_time: dict[int, list[Point]] = defaultdict(list)
    for p in points:
        by_time[p.time_unix_nano].append(p)
    checked = 0
    for cycle in by_time.values():
        used = [p.value for p in cycle if p.name == "system.memory.usage"
                and p.attributes["system.memory.state"] == "used"]
        limit = [p.value for p in cycle if p.name == "system.memory.limit"]
        available = [p.value for p in cycle if p.name == "system.memory.linux.available"]
        if used and limit and available:
            assert used[0] == limit[0] - available[0]
        util = [p.value for p in cycle if p.name == "system.cpu.utilization"]
        if util:
            assert sum(util) == pytest.approx(1.0, abs=0.01)
            assert all(0 <= u <= 1 for u in util)
            checked += 1
    assert checked >= 3
    # counters never go backwards; the agent's own process is reported with its pid
    for (name, _), series in by_series(points).items():
        if BY_NAME[name].kind is Kind.COUNTER:
            values = [p.value for p in sorted(series, key=lambda p: p.time_unix_nano)]
            assert values == sorted(values), name
    pids = {p.attributes["process.pid"] for p in points if p.name == "process.memory.usage"}
    assert pids == {agent.proc.pid}
    assert agent.terminate() == 0
    assert "Traceback" not in agent.stderr()


def test_http_protobuf_push_through_rotel(receiver: Receiver, rotel: Rotel, agents: list,
                                          tmp_path: Path) -> None:
    agent = AgentProcess({
        "ADK_AGENT_ENDPOINT": rotel.http_endpoint, "ADK_AGENT_PROTOCOL": "http/protobuf",
        "ADK_AGENT_INTERVAL": "500ms", "ADK_AGENT_METRIC_SCHEMA": "both",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",  # the agent's own variable wins
    }, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: len(receiver.cycles()) >= 3, 30), agent.stderr()
    names = receiver.names()
    assert expected_names() <= names
    assert {"adk_system_cpu_usage_idle_percent", "adk_process_cpu_usage_user_seconds",
            "adk_system_memory_used_bytes", "adk_system_network_packets_sent_total",
            "adk_app_info"} <= names
    for p in receiver.points():
        if p.name.startswith("adk_"):
            assert p.kind == "gauge" and p.unit == BY_NAME[p.name].unit
        if p.name == "adk_system_cpu_usage_idle_percent":
            assert 0 <= p.value <= 100
    assert agent.terminate() == 0


def test_sigterm_exports_the_current_cycle_and_exits_0(receiver: Receiver, rotel: Rotel,
                                                        agents: list, tmp_path: Path) -> None:
    port = free_port()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint,
                          "ADK_AGENT_INTERVAL": "1h",
                          "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}"}, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: _up(port), 20), agent.stderr()
    # the start-up export arrives at once; the next is an hour away
    assert wait_until(lambda: len(receiver.cycles()) == 1, 20), agent.stderr()
    assert agent.terminate() == 0
    assert wait_until(lambda: len(receiver.cycles()) == 2, 10), agent.stderr()
    assert "Traceback" not in agent.stderr()


def test_first_export_arrives_soon_after_start(receiver: Receiver, agents: list,
                                              tmp_path: Path) -> None:
    import time

    started = time.monotonic()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": "1m"}, workdir=tmp_path)
    agents.append(agent)
    # generous for a loaded CI machine; the benchmark reports the real figure
    assert wait_until(lambda: receiver.snapshot() != [], 15), agent.stderr()
    assert time.monotonic() - started < 15
    assert agent.terminate() == 0


def _up(port: int) -> bool:
    try:
        return health(port, "/healthz")[0] == 200
    except OSError:
        return False


def test_collector_down_at_start_then_up(receiver: Receiver, agents: list,
                                         tmp_path: Path) -> None:
    collector = Rotel(receiver, tmp_path)  # ports chosen, not started yet
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
                          "ADK_AGENT_INTERVAL": "300ms", "ADK_AGENT_EXPORT_TIMEOUT": "500ms"},
                         workdir=tmp_path)
    agents.append(agent)
    try:
        assert wait_until(lambda: "failed" in agent.stderr(), 20), agent.stderr()
        assert wait_until(lambda: agent.proc.poll() is None, 0.1)
        collector.start()
        # every cycle measured during the outage arrives, oldest first, none twice
        assert wait_until(lambda: "recovered" in agent.stderr(), 30), agent.stderr()
        assert wait_until(lambda: len(receiver.cycles()) >= 8, 30)
        cycles = receiver.cycles()
        assert cycles == sorted(cycles) and len(cycles) == len(set(cycles))
        err = agent.stderr()
        assert err.count("WARNING") == 1, err  # one warning for the whole outage
        assert err.count("recovered") == 1
        assert agent.terminate() == 0
    finally:
        collector.stop()


def test_health_endpoint_over_http(receiver: Receiver, rotel: Rotel, agents: list,
                                   tmp_path: Path) -> None:
    port = free_port()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint,
                          "ADK_AGENT_INTERVAL": "300ms", "APP_VERSION": "1.2.3",
                          "GIT_COMMIT": "cafe", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cr3t",
                          "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}"}, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: _up(port) and health(port, "/readyz")[0] == 200, 20), \
        agent.stderr()
    # utilization needs a second cycle
    assert wait_until(lambda: health(port)[1]["figures"]["cpu"]["idle_percent"] is not None, 20)
    code, doc = health(port)
    assert code == 200 and doc["status"] == "ok"
    assert doc["service_version"] == "1.2.3" and doc["git_commit"] == "cafe"
    assert doc["exports"] >= 1 and doc["last_export"]["ok"] is True
    fig = doc["figures"]
    assert 0 <= fig["cpu"]["idle_percent"] <= 100
    assert fig["memory"]["total_bytes"] == psutil.virtual_memory().total
    assert fig["process"][0]["pid"] == agent.proc.pid and fig["process"][0]["rss_bytes"] > 0
    assert "network" in fig and "load" in fig and "disk" in fig
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
        assert r.headers["Content-Type"] == "application/json"
        assert b"s3cr3t" not in r.read()
    assert health(port, "/nope")[0] == 404
    req = urllib.request.Request(f"http://127.0.0.1:{port}/health", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=2)
    assert err.value.code == 405
    assert agent.terminate() == 0
    assert "s3cr3t" not in agent.stderr()


def test_bad_configuration_exits_2_before_running(tmp_path: Path) -> None:
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, workdir=tmp_path)
    assert agent.proc.wait(30) == 2
    err = agent.stderr().strip()
    assert err.count("\n") == 0 and "OTEL_EXPORTER_OTLP_PROTOCOL" in err


def test_once_reads_a_host_root(tmp_path: Path) -> None:
    fixture = HOSTROOT
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env["ADK_AGENT_ROOT_PATH"] = str(fixture)
    r = subprocess.run([sys.executable, "-m", "agent", "once", "--format", "json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    metrics = {m["name"]: m["points"] for m in json.loads(r.stdout)["metrics"]}
    assert [p["value"] for p in metrics["system.cpu.load_average.1m"]] == [1.5]
    nics = {p["attributes"]["network.interface.name"] for p in metrics["system.network.io"]}
    assert nics == {"lo", "ens5", "veth1234"}
    used = [p["value"] for p in metrics["system.memory.usage"]
            if p["attributes"]["system.memory.state"] == "used"]
    assert used == [(16000000 - 10000000) * 1024]  # MemTotal - MemAvailable
