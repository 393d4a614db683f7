"""containers against node fixtures whose values are known (tests/fixtures/cgroup-*, on top of
tests/fixtures/hostroot): both cgroup drivers, containerd, CRI-O and docker names, sandboxes, a
container that vanishes mid-cycle, hybrid, v1-only and container-less hosts, the filters, and a
generated node of 200 containers."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.host import cgroup
from agent.host import cgroupstats as cs
from agent.host.cgroupfiles import Held
from agent.pipeline import Agent
from tests import cgroup_tree
from tests.paths import HOSTROOT
from tests.unit.rig import Rig, config, node_root

MIB = 1 << 20
NS, POD, UID = "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid"
NAME, ID, MODE = "k8s.container.name", "container.id", "cpu.mode"
STALL = "system.linux.pressure.stall_type"

POD_A = "1f3a0c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"  # shop/web: burstable, containerd
POD_B = "2b4c6d8e-0a1b-4c2d-9e3f-405162738495"  # jobs/batch: besteffort, CRI-O
POD_C = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"  # kube-system/etcd-node1: guaranteed, static
A0, A1, A2, A3 = ("a0" * 32, "a1" * 32, "a2" * 32, "a3" * 32)  # sandbox, app, sidecar, vanished
B0, B1, C0, C1, D1 = "b0" * 32, "b1" * 32, "c0" * 32, "c1" * 32, "d1" * 32
WEB = {NS: "shop", POD: "web-7d4b9c-x2x5q", UID: POD_A}
BATCH = {NS: "jobs", POD: "batch-28512345-abcde", UID: POD_B}
ETCD = {NS: "kube-system", POD: "etcd-node1", UID: POD_C}


@pytest.fixture(scope="module")
def systemd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return node_root(tmp_path_factory.mktemp("n") / "root", "cgroup-systemd")


def rig(root: Path, **overrides: Any) -> Rig:
    return Rig(root, **overrides).cycle()


def points(r: Rig, metric: str) -> dict[tuple[tuple[str, Any], ...], float]:
    return r.points("containers", metric)


def by_id(r: Rig, metric: str, *extra: str) -> dict[Any, float]:
    """Values by container.id (and the extra attributes asked for)."""
    out = {}
    for key, v in points(r, metric).items():
        a = dict(key)
        out[(a[ID], *(a[k] for k in extra)) if extra else a[ID]] = v
    return out


def by_pod(r: Rig, metric: str, *extra: str) -> dict[Any, float]:
    out = {}
    for key, v in points(r, metric).items():
        a = dict(key)
        out[(a[UID], *(a[k] for k in extra)) if extra else a[UID]] = v
    return out


# --- the systemd driver: containerd, CRI-O, docker --------------------------------------------


def test_identity_of_every_container_and_no_sandbox(systemd: Path) -> None:
    r = rig(systemd)
    attrs = {dict(k)[ID]: dict(k) for k in points(r, "container.memory.usage")}
    # A0, B0, C0 (sandboxes) and A3 (no log: a sandbox too) are left out; crio-conmon never
    # was a container
    assert set(attrs) == {A1, A2, B1, C1, D1}
    assert attrs[A1] == {**WEB, NAME: "app", ID: A1}  # containerd
    assert attrs[A2] == {**WEB, NAME: "sidecar", ID: A2}
    assert attrs[B1] == {**BATCH, NAME: "worker", ID: B1}  # CRI-O
    assert attrs[C1] == {**ETCD, NAME: "etcd", ID: C1}  # a static pod's 32-digit uid
    assert attrs[D1] == {ID: D1}  # system.slice/docker-<id>.scope: no pod


def test_container_values(systemd: Path) -> None:
    r = rig(systemd)
    assert by_id(r, "container.cpu.time", MODE) == {
        (A1, "user"): 3.5, (A1, "system"): 1.5, (A2, "user"): 0.392, (A2, "system"): 0.188,
        (B1, "user"): 7.95, (B1, "system"): 1.05, (C1, "user"): 29.995,
        (C1, "system"): 9.99, (D1, "user"): 2.0, (D1, "system"): 1.0}
    assert by_id(r, "container.memory.usage") == {
        A1: 100 * MIB, A2: 14 * MIB, B1: 344_981_504, C1: 500 * MIB, D1: 60 * MIB}
    assert by_id(r, "container.memory.working_set") == {
        A1: 90 * MIB, A2: 12 * MIB, B1: 344_981_504 - 5 * MIB, C1: 480 * MIB, D1: 56 * MIB}
    assert by_id(r, "container.memory.rss") == {
        A1: 60 * MIB, A2: 9 * MIB, B1: 313_524_224, C1: 400 * MIB, D1: 50 * MIB}
    assert by_id(r, "container.memory.oom_kills") == {A1: 1, A2: 0, B1: 0, C1: 0, D1: 0}
    assert by_id(r, "container.cpu.throttling_data.throttled_periods") == {
        A1: 25, A2: 0, B1: 0, C1: 100, D1: 0}
    assert by_id(r, "container.cpu.throttling_data.throttled_time") == {
        A1: 750_000_000, A2: 0, B1: 0, C1: 2_000_000_000, D1: 0}  # ns
    # limits only where one is set, and only for pod containers (the docker one has cpu.max)
    assert by_id(r, "k8s.container.cpu.limit.current") == {A1: 0.5, C1: 2.0}
    assert by_id(r, "k8s.container.memory.limit.current") == {A1: 256 * MIB, C1: 512 * MIB}


def test_pod_totals(systemd: Path) -> None:
    r = rig(systemd)
    assert {dict(k)[UID]: dict(k) for k in points(r, "k8s.pod.cpu.time")} == {
        POD_A: WEB, POD_B: BATCH, POD_C: ETCD}
    assert by_pod(r, "k8s.pod.cpu.time") == {POD_A: 5.6, POD_B: 9.1, POD_C: 40.0}  # sandbox in
    assert by_pod(r, "k8s.pod.memory.usage") == {
        POD_A: 112 * MIB, POD_B: 330 * MIB, POD_C: 500 * MIB}
    assert by_pod(r, "k8s.pod.memory.working_set") == {
        POD_A: 100 * MIB, POD_B: 325 * MIB, POD_C: 480 * MIB}
    assert by_pod(r, "k8s.pod.memory.rss") == {POD_A: 70 * MIB, POD_B: 300 * MIB,
                                               POD_C: 400 * MIB}
    # the app's own cgroup says 1 (it is new since its restart); the pod keeps all three
    assert by_pod(r, "k8s.pod.memory.oom_kills") == {POD_A: 3, POD_B: 0, POD_C: 0}
    assert by_pod(r, "k8s.pod.cpu.linux.pressure.total", STALL) == {
        (POD_A, "some"): 2.6, (POD_A, "full"): 0.85, (POD_B, "some"): 0.7,
        (POD_B, "full"): 0.3, (POD_C, "some"): 0.0001, (POD_C, "full"): 0.0}
    assert by_pod(r, "k8s.pod.io.linux.pressure.total", STALL)[(POD_C, "some")] == 7.0
    assert by_pod(r, "k8s.pod.memory.linux.pressure.total", STALL)[(POD_A, "full")] == 0.0095


def test_metrics_off_by_default(systemd: Path) -> None:
    on = ("container.disk.io,container.disk.operations,container.paging.faults,"
          "container.memory.available,container.cpu.throttling_data.periods,"
          "container.cpu.linux.pressure.total,k8s.pod.disk.io,k8s.pod.memory.available,"
          "k8s.pod.cpu.throttling_data.throttled_time,k8s.pod.paging.faults")
    r = rig(systemd, metrics_enabled=on)
    io = by_id(r, "container.disk.io", "system.device", "disk.io.direction")
    assert io[(A1, "sda", "read")] == 1_048_576 and io[(A1, "dm-0", "write")] == 8192
    assert io[(C1, "sda", "write")] == 536_870_912 and len(io) == 2 * 2 + 2 + 2 + 2
    ops = by_id(r, "container.disk.operations", "system.device", "disk.io.direction")
    assert ops[(A1, "sda", "write")] == 1024
    assert by_id(r, "container.paging.faults", "system.paging.fault.type")[(A1, "minor")] == \
        120_000 - 300
    assert by_id(r, "container.memory.available") == {A1: 166 * MIB, C1: 32 * MIB}
    assert by_id(r, "container.cpu.throttling_data.periods")[C1] == 5000
    assert by_id(r, "container.cpu.linux.pressure.total", STALL)[(A1, "some")] == 2.5
    assert by_pod(r, "k8s.pod.disk.io", "system.device", "disk.io.direction")[
        (POD_A, "sda", "write")] == 4_259_840
    assert by_pod(r, "k8s.pod.memory.available") == {POD_C: 32 * MIB}  # the only pod limit
    assert by_pod(r, "k8s.pod.cpu.throttling_data.throttled_time") == {
        POD_A: 0, POD_B: 0, POD_C: 2_000_000_000}
    assert by_pod(r, "k8s.pod.paging.faults", "system.paging.fault.type")[(POD_B, "major")] == 12
    # the disks filter applies to container I/O too
    r = rig(systemd, metrics_enabled="container.disk.io", disks_exclude="dm-*")
    assert {d for _, d, _ in by_id(r, "container.disk.io", "system.device",
                                   "disk.io.direction")} == {"sda"}


def test_only_the_files_of_exported_metrics_are_read(systemd: Path) -> None:
    node = rig(systemd).source("containers").node  # type: ignore[attr-defined]
    assert node.container_files == {cs.CPU_STAT, cs.MEMORY_CURRENT, cs.MEMORY_STAT,
                                    cs.MEMORY_EVENTS, cs.CPU_MAX, cs.MEMORY_MAX}
    assert node.pod_files == {cs.CPU_STAT, cs.MEMORY_CURRENT, cs.MEMORY_STAT,
                              cs.MEMORY_EVENTS, *cs.PRESSURE_FILES}
    r = rig(systemd, metrics_disabled="k8s.pod.cpu.time,k8s.pod.memory.usage,"
            "k8s.pod.memory.working_set,k8s.pod.memory.rss,k8s.pod.memory.oom_kills,"
            "k8s.pod.cpu.linux.pressure.total,k8s.pod.memory.linux.pressure.total,"
            "k8s.pod.io.linux.pressure.total")
    assert r.source("containers").node.pod_files == set()  # type: ignore[attr-defined]
    assert r.source("containers").snapshot().pods == []  # type: ignore[attr-defined]
    nothing = rig(systemd, metric_schema="adk").source("containers")
    assert nothing.node.pod_files == nothing.node.container_files == set()  # type: ignore


def test_attribute_dicts_are_kept_while_the_cgroup_lives(tmp_path: Path) -> None:
    root = node_root(tmp_path / "root", "cgroup-systemd")
    r = rig(root)
    first = {dict(a)[ID]: a for _, a in r.source("containers").observers()[
        "container.memory.usage"]()}
    r.cycle()
    again = {dict(a)[ID]: a for _, a in r.source("containers").observers()[
        "container.memory.usage"]()}
    assert all(again[i] is first[i] for i in first)  # the same dict: the SDK's key, the encoder's
    web = root / "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice" \
        / f"kubepods-burstable-pod{POD_A.replace('-', '_')}.slice"
    shutil.rmtree(web)
    r.cycle()
    assert set(by_id(r, "container.memory.usage")) == {B1, C1, D1}
    assert len(r.source("containers").node._entries) == 3 + 2  # type: ignore[attr-defined]


def test_a_container_gone_between_listing_and_reading_costs_only_itself(
        tmp_path: Path) -> None:
    root = node_root(tmp_path / "root", "cgroup-systemd")
    r = Rig(root)
    walker = r.source("containers").node.walker  # type: ignore[attr-defined]
    listed = walker.scan

    def scan_then_remove() -> cgroup.Scan:
        s = listed()
        shutil.rmtree(next(c.path for c in s.containers if c.id == A1))
        return s

    walker.scan = scan_then_remove
    r.cycle()
    assert set(by_id(r, "container.memory.usage")) == {A2, B1, C1, D1}
    assert set(by_id(r, "container.cpu.time", MODE)) == {
        (i, m) for i in (A2, B1, C1, D1) for m in ("user", "system")}
    assert len(by_pod(r, "k8s.pod.memory.usage")) == 3


# --- the cgroupfs driver ----------------------------------------------------------------------


def test_cgroupfs_driver_with_bare_ids_and_crio(tmp_path: Path) -> None:
    r = rig(node_root(tmp_path / "root", "cgroup-cgroupfs"))
    api, runner, pg, plain = "e1" * 32, "f1" * 32, "71" * 32, "d2" * 32
    attrs = {dict(k)[ID]: dict(k) for k in points(r, "container.memory.usage")}
    assert attrs == {
        api: {NS: "default", POD: "api-5c9f8d7b6-qwert",
              UID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", NAME: "api", ID: api},
        runner: {NS: "ci", POD: "runner-1", UID: "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0",
                 NAME: "runner", ID: runner},  # crio-<id>, not crio-conmon-<id>
        pg: {NS: "db", POD: "postgres-0", UID: "7a8b9c0d-1e2f-4a3b-c4d5-e6f7a8b9c0d1",
             NAME: "postgres", ID: pg},
        plain: {ID: plain},  # docker/<id>
    }
    assert by_id(r, "container.cpu.time", MODE)[(api, "user")] == 0.996
    assert by_id(r, "container.memory.working_set")[pg] == 41_793_040 - 5 * MIB
    assert by_id(r, "k8s.container.cpu.limit.current") == {api: 0.25, pg: 1.0}
    assert by_id(r, "k8s.container.memory.limit.current") == {api: 64 * MIB, pg: 128 * MIB}
    assert by_id(r, "container.memory.oom_kills") == {}  # no memory.events in this fixture
    assert by_pod(r, "k8s.pod.cpu.time")["5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"] == 1.5


# --- hosts without (usable) container cgroups -------------------------------------------------


def test_cgroup_v1_host_says_so_once_and_exports_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    root = node_root(tmp_path / "root", "cgroup-v1")
    r = rig(root)
    for _ in range(3):
        assert points(r.cycle(), "container.cpu.time") == {}
        assert points(r, "k8s.pod.cpu.time") == {}
    lines = [rec.getMessage() for rec in caplog.records if rec.name.startswith("agent")]
    assert lines == [f"containers: {root}/sys/fs/cgroup is cgroup v1 only: pod and container "
                     "metrics need cgroup v2 (the unified hierarchy); none are read"]
    assert r.source("containers").figures() == {"containers": {
        "cgroup": "legacy", "pods": 0, "containers": 0}}


def test_host_without_kubernetes_says_so_once(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    root = node_root(tmp_path / "root", "cgroup-none")
    r = rig(root)
    for _ in range(3):
        assert points(r.cycle(), "container.memory.usage") == {}
    lines = [rec.getMessage() for rec in caplog.records if rec.name.startswith("agent")]
    assert lines == [f"containers: no container cgroups under {root}/sys/fs/cgroup: nothing "
                     "to export until some appear"]


def test_no_cgroup_filesystem_at_all(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    r = rig(HOSTROOT)
    assert points(r, "container.cpu.time") == {} and points(r, "k8s.pod.cpu.time") == {}
    assert f"no cgroup filesystem at {HOSTROOT}/sys/fs/cgroup" in caplog.text


def test_hybrid_host_has_cpu_time_and_pressure_only(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    r = rig(node_root(tmp_path / "root", "cgroup-hybrid"))
    cpu = by_id(r, "container.cpu.time", MODE)
    assert "on a hybrid host: CPU time and pressure only" in caplog.text
    assert cpu[("91" * 32, "user")] == 0.496 and cpu[("91" * 32, "system")] == 0.194
    assert points(r, "container.memory.usage") == {}
    pod = "8b9c0d1e-2f3a-4b4c-d5e6-f7a8b9c0d1e2"
    assert by_pod(r, "k8s.pod.cpu.time") == {pod: 0.7}
    assert by_pod(r, "k8s.pod.cpu.linux.pressure.total", STALL)[(pod, "some")] > 0


def test_a_node_without_container_links_keeps_every_container(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    root = node_root(tmp_path / "root", "cgroup-systemd")
    shutil.rmtree(root / "var/log/containers")
    r = rig(root)
    attrs = {dict(k)[ID]: dict(k) for k in points(r, "container.memory.usage")}
    # sandboxes cannot be told apart: all are kept, named by their pod, without a container name
    assert set(attrs) == {A0, A1, A2, B0, B1, C0, C1, D1}  # A3 has no files: nothing read
    assert attrs[A1] == {**WEB, ID: A1}
    assert f"{root}/var/log/containers is missing" in caplog.text


def test_a_container_named_later_gets_its_name(tmp_path: Path) -> None:
    root = node_root(tmp_path / "root", "cgroup-systemd")
    link = root / "var/log/containers" / f"web-7d4b9c-x2x5q_shop_app-{A1}.log"
    target = os.readlink(link)
    link.unlink()
    r = rig(root)
    assert A1 not in by_id(r, "container.memory.usage")  # a sandbox until its link appears
    os.symlink(target, link)
    r.cycle()
    (attrs,) = [dict(k) for k in points(r, "container.memory.usage") if dict(k)[ID] == A1]
    assert attrs[NAME] == "app"


# --- filters, cap, interval, figures ----------------------------------------------------------


def test_namespace_filters(systemd: Path) -> None:
    r = rig(systemd, namespaces_include="shop")
    assert set(by_id(r, "container.memory.usage")) == {A1, A2}  # the plain container goes too
    assert set(by_pod(r, "k8s.pod.memory.usage")) == {POD_A}
    r = rig(systemd, namespaces_exclude="kube-*,jobs")
    assert set(by_id(r, "container.memory.usage")) == {A1, A2, D1}
    assert set(by_pod(r, "k8s.pod.memory.usage")) == {POD_A}


def test_the_series_cap_and_a_slower_interval_apply(
        systemd: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = Agent(config(systemd, interval="10s", max_series=3, sources="containers",
                         source_intervals={"containers": "30s"}))
    points = {m.name: p for m, p in agent.points()}
    assert len(points["container.memory.usage"]) == 3  # two, and the rest in one
    assert points["container.memory.usage"][-1].attrs == {"otel.metric.overflow": True}
    assert "container.memory.usage has 5 series" in caplog.text
    node = agent.sources["containers"].node  # type: ignore[attr-defined]
    calls = []
    real = node.read
    node.read = lambda: calls.append(1) or real()
    for _ in range(6):
        agent.collect()
    assert len(calls) == 2  # one read every third cycle


def test_health_figures(systemd: Path) -> None:
    r = Rig(systemd)
    source = r.source("containers")
    assert source.figures() == {"containers": {"cgroup": "unified", "pods": None,
                                               "containers": None}}  # nothing read yet
    r.cycle().points("containers", "container.cpu.time")
    assert source.figures() == {"containers": {"cgroup": "unified", "pods": 3,
                                               "containers": 5}}


# --- a node of 200 containers -----------------------------------------------------------------


def test_two_hundred_containers(tmp_path: Path) -> None:
    shutil.copytree(HOSTROOT, tmp_path, dirs_exist_ok=True)
    node = cgroup_tree.build(tmp_path, pods=50, per_pod=4)
    r = rig(tmp_path)
    usage = by_id(r, "container.memory.usage")
    assert set(usage) == set(node.workloads) and len(usage) == 200
    n = 9  # pod 2's first workload (1-6: pod 1, its sandbox and workloads; 7, 8: pod 2, sandbox)
    assert usage[cgroup_tree.cid(n)] == n * MIB
    assert by_id(r, "container.cpu.time", MODE)[(cgroup_tree.cid(n), "user")] == \
        n * 1000 * 3 // 4 / 1e6
    ns, pod, name = node.workloads[cgroup_tree.cid(n)]
    (attrs,) = [dict(k) for k in points(r, "container.memory.rss")
                if dict(k)[ID] == cgroup_tree.cid(n)]
    assert (attrs[NS], attrs[POD], attrs[NAME]) == (ns, pod, name)
    assert len(by_pod(r, "k8s.pod.cpu.time")) == 50


def test_limits_are_read_when_a_container_appears_then_once_a_minute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = node_root(tmp_path / "root", "cgroup-systemd")
    r = Rig(root, interval="10s")  # limits every 6 cycles
    opened: list[str] = []
    real = Held.read

    def counting(held: Held, files: frozenset[str]) -> object:
        opened.extend(f for f in files if f in (cs.CPU_MAX, cs.MEMORY_MAX))
        return real(held, files)

    monkeypatch.setattr(Held, "read", counting)
    first = points(r.cycle(), "k8s.container.memory.limit.current")
    reads = len(opened)
    assert first and reads > 0
    for _ in range(5):  # cycles 2-6: the limits as read in cycle 1
        assert points(r.cycle(), "k8s.container.memory.limit.current") == first
    assert len(opened) == reads
    points(r.cycle(), "k8s.container.memory.limit.current")  # cycle 7: read again
    assert len(opened) == 2 * reads
