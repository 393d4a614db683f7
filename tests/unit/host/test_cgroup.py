"""cgroup v2 reading against fixture trees whose values are known: both kubelet cgroup drivers,
containerd, CRI-O and docker names, sandboxes, a vanished container, hybrid, v1-only and
container-less hosts, and a generated 200-container node. A real cgroup with a process burning
CPU in it: tests/e2e/test_real_cgroup.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agent.host import cgroup, pressure
from agent.host import cgroupstats as cs
from agent.host.cgroup import Mode, find_hierarchy
from agent.host.cgroupstats import CPU_STAT, MEMORY_CURRENT, MEMORY_STAT, CpuMax, CpuStat, IOStat
from agent.host.pressure import Stall
from tests import cgroup_tree
from tests.paths import FIXTURES

SYSTEMD, CGROUPFS = FIXTURES / "cgroup-systemd", FIXTURES / "cgroup-cgroupfs"
MIB = 1 << 20

POD_A = "1f3a0c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"  # shop/web: burstable, containerd
POD_B = "2b4c6d8e-0a1b-4c2d-9e3f-405162738495"  # jobs/batch: besteffort, CRI-O
POD_C = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"  # kube-system/etcd-node1: guaranteed, static
A0, A1, A2, A3 = ("a0" * 32, "a1" * 32, "a2" * 32, "a3" * 32)  # sandbox, app, sidecar, vanished
B0, B1, C0, C1, D1 = "b0" * 32, "b1" * 32, "c0" * 32, "c1" * 32, "d1" * 32


def tree(root: Path) -> str:
    h = find_hierarchy(str(root))
    assert h.path is not None, h.message
    return h.path


def scan(root: Path) -> cgroup.Scan:
    return cgroup.Walker(tree(root)).scan()


def paths(s: cgroup.Scan) -> dict[str, str]:
    return {c.id: c.path for c in s.containers} | {p.uid: p.path for p in s.pods}


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)  # the kubelet's links point outside the tree
    return dst


# --- finding the tree -------------------------------------------------------------------------


def test_unified_host() -> None:
    h = find_hierarchy(str(SYSTEMD))
    assert h.mode is Mode.UNIFIED
    assert h.path == f"{SYSTEMD}/sys/fs/cgroup"
    assert h.files == cs.ALL_FILES  # cpu, io and memory enabled for children; PSI on


def test_files_offered_follow_the_controllers_and_psi(tmp_path: Path) -> None:
    cg = tmp_path / "sys/fs/cgroup"
    cg.mkdir(parents=True)
    (cg / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (cg / "cgroup.subtree_control").write_text("cpu pids\n")
    assert find_hierarchy(str(tmp_path)).files == {CPU_STAT, cs.CPU_MAX}  # no PSI
    (cg / "cgroup.subtree_control").write_text("memory\n")
    (cg / "cpu.pressure").write_text("")
    assert find_hierarchy(str(tmp_path)).files == {
        CPU_STAT, MEMORY_CURRENT, MEMORY_STAT, cs.MEMORY_EVENTS, cs.MEMORY_MAX,
        *cs.PRESSURE_FILES}


def test_hybrid_host_reads_the_unified_tree_and_says_what_it_lacks() -> None:
    root = FIXTURES / "cgroup-hybrid"
    h = find_hierarchy(str(root))
    assert h.mode is Mode.HYBRID
    assert h.path == f"{root}/sys/fs/cgroup/unified"
    assert "hybrid" in h.message and "memory and I/O" in h.message and "\n" not in h.message
    assert h.files == {CPU_STAT, *cs.PRESSURE_FILES}  # no controller is v2's on such a host


def test_cgroup_v1_host_gets_one_clear_line() -> None:
    root = FIXTURES / "cgroup-v1"
    h = find_hierarchy(str(root))
    assert h.mode is Mode.LEGACY and h.path is None
    assert h.message == (f"{root}/sys/fs/cgroup is cgroup v1 only: pod and container metrics "
                         "need cgroup v2 (the unified hierarchy); none are read")


def test_no_cgroup_filesystem(tmp_path: Path) -> None:
    h = find_hierarchy(str(tmp_path))
    assert h.mode is Mode.NONE and h.path is None
    assert h.message == f"no cgroup filesystem at {tmp_path}/sys/fs/cgroup"


def test_host_without_containers_scans_empty() -> None:
    s = scan(FIXTURES / "cgroup-none")  # system.slice services, containerd.service, user.slice
    assert not s and s.pods == [] and s.containers == []


# --- walking the layouts ----------------------------------------------------------------------


def test_systemd_driver_pods_by_qos_with_their_uids() -> None:
    s = scan(SYSTEMD)
    assert {p.uid: p.qos for p in s.pods} == {
        POD_A: "burstable", POD_B: "besteffort", POD_C: "guaranteed"}  # C: under kubepods.slice
    assert paths(s)[POD_C].endswith(
        "/kubepods.slice/kubepods-podc3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8.slice")


def test_systemd_driver_containers_by_runtime_and_pod() -> None:
    s = scan(SYSTEMD)
    assert {c.id: (c.runtime, c.pod_uid) for c in s.containers} == {
        A0: ("containerd", POD_A), A1: ("containerd", POD_A), A2: ("containerd", POD_A),
        A3: ("containerd", POD_A),  # listed: that it has gone shows when it is read
        B0: ("cri-o", POD_B), B1: ("cri-o", POD_B),  # crio-conmon-<B1>.scope is left out
        C0: ("containerd", POD_C), C1: ("containerd", POD_C),
        D1: ("docker", None),  # system.slice/docker-<id>.scope: no pod
    }
    assert paths(s)[B1].endswith(f"/crio-{B1}.scope")


def test_cgroupfs_driver() -> None:
    s = scan(CGROUPFS)
    assert {p.uid: p.qos for p in s.pods} == {
        "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9": "burstable",
        "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0": "besteffort",
        "7a8b9c0d-1e2f-4a3b-c4d5-e6f7a8b9c0d1": "guaranteed",
    }
    by_id = {c.id: (c.runtime, c.pod_uid) for c in s.containers}
    assert by_id == {
        "e0" * 32: (None, "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"),  # a bare id names no runtime
        "e1" * 32: (None, "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"),
        "f0" * 32: ("cri-o", "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0"),
        "f1" * 32: ("cri-o", "6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0"),  # not crio-conmon-<f1>
        "70" * 32: (None, "7a8b9c0d-1e2f-4a3b-c4d5-e6f7a8b9c0d1"),
        "71" * 32: (None, "7a8b9c0d-1e2f-4a3b-c4d5-e6f7a8b9c0d1"),
        "d2" * 32: ("docker", None),  # docker/<id>
    }


def test_kubelet_under_a_cgroup_root(tmp_path: Path) -> None:
    """kind runs the kubelet with --cgroup-root=/kubelet: kubelet.slice/kubelet-kubepods.slice."""
    kp = tmp_path / "sys/fs/cgroup/kubelet.slice/kubelet-kubepods.slice"
    pod = kp / "kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" \
        "0a1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d.slice"
    cgroup_tree.write_cgroup(pod / f"cri-containerd-{'ab' * 32}.scope", 5)
    cgroup_tree.write_cgroup(kp / "kubelet-kubepods-pod0f1e2d3c_4b5a_4697_8877_665544332211.slice",
                             6)
    (tmp_path / "sys/fs/cgroup/cgroup.controllers").write_text("cpu memory io\n")
    s = scan(tmp_path)
    assert {p.uid: p.qos for p in s.pods} == {
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": "burstable",
        "0f1e2d3c-4b5a-4697-8877-665544332211": "guaranteed"}
    assert [(c.id, c.pod_uid) for c in s.containers] == [
        ("ab" * 32, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")]


def test_podman_outside_kubernetes(tmp_path: Path) -> None:
    cg = tmp_path / "sys/fs/cgroup"
    cgroup_tree.write_cgroup(cg / f"machine.slice/libpod-{'cd' * 32}.scope", 1)
    cgroup_tree.write_cgroup(cg / f"machine.slice/libpod-conmon-{'cd' * 32}.scope", 2)
    cgroup_tree.write_cgroup(cg / "machine.slice/systemd-nspawn@box.service", 3)
    (cg / "cgroup.controllers").write_text("cpu memory io\n")
    s = scan(tmp_path)
    assert s.pods == []
    assert [(c.id, c.runtime, c.pod_uid) for c in s.containers] == [("cd" * 32, "podman", None)]


def test_one_scandir_per_directory_and_level(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cgroup_tree.build(tmp_path, pods=12, per_pod=2)
    calls: list[str] = []
    real = os.scandir

    def counting(path: str) -> object:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(cgroup.os, "scandir", counting)
    s = scan(tmp_path)
    # the top, kubepods.slice, its two QoS slices, and each pod: never a container's directory
    assert len(calls) == 1 + 1 + 2 + 12
    assert len(s.pods) == 12 and len(s.containers) == 12 * 3


def test_names_of_removed_cgroups_are_forgotten(tmp_path: Path) -> None:
    node = cgroup_tree.build(tmp_path, pods=3, per_pod=1)
    walker = cgroup.Walker(tree(tmp_path))
    first = walker.scan()
    gone = next(p for p in first.pods if p.qos == "burstable")
    shutil.rmtree(gone.path)
    second = walker.scan()
    assert {p.uid for p in second.pods} == set(node.pods) - {gone.uid}
    assert len(second.containers) == len(first.containers) - 2
    # the name verdicts held are the live cgroups' only (memory follows the host, not history)
    assert len(walker._pod._seen) == 2
    assert len(walker._ctr._seen) == 4


# --- reading a cgroup -------------------------------------------------------------------------


def test_container_values() -> None:
    st = cs.read(paths(scan(SYSTEMD))[A1])
    assert st is not None
    assert st.cpu == CpuStat(usage_us=5_000_000, user_us=3_500_000, system_us=1_500_000,
                             nr_periods=1000, nr_throttled=25, throttled_us=750_000)
    assert st.memory_current == 100 * MIB
    assert st.working_set == 90 * MIB  # usage less inactive_file (10 MiB)
    assert st.rss == 60 * MIB
    assert st.faults == (120_000 - 300, 300)  # pgfault counts the major faults too
    assert st.memory_stat == {"anon": 60 * MIB, "file": 35 * MIB, "active_file": 25 * MIB,
                              "inactive_file": 10 * MIB, "pgfault": 120_000, "pgmajfault": 300}
    assert st.memory_events is not None
    assert (st.memory_events["oom"], st.memory_events["oom_kill"]) == (1, 1)
    assert st.memory_max == 256 * MIB
    assert st.cpu_max == CpuMax(50_000, 100_000) and st.cpu_max.cpus == 0.5
    assert st.io == {"8:0": IOStat(1_048_576, 4_194_304, 256, 1024),
                     "253:0": IOStat(0, 8192, 0, 2)}
    assert st.pressure == {
        "cpu": {"some": Stall(1.5, 0.8, 0.2, 2_500_000), "full": Stall(0.0, 0.0, 0.0, 800_000)},
        "memory": {"some": Stall(0.0, 0.0, 0.0, 12_000), "full": Stall(0.0, 0.0, 0.0, 9000)},
        "io": {"some": Stall(0.0, 0.0, 0.0, 40_000), "full": Stall(0.0, 0.0, 0.0, 30_000)},
    }
    assert st.pressure["cpu"]["some"].seconds == 2.5


def test_unlimited_container_and_no_io() -> None:
    st = cs.read(paths(scan(SYSTEMD))[A2])
    assert st is not None
    assert st.memory_max is None  # memory.max: max
    assert st.cpu_max == CpuMax(None, 100_000) and st.cpu_max.cpus is None  # cpu.max: max 100000
    assert st.io == {"8:0": IOStat(131_072, 65_536, 32, 16)}


def test_pod_totals_include_the_sandbox_and_keep_oom_kills_of_restarted_containers() -> None:
    st = cs.read(paths(scan(SYSTEMD))[POD_A])
    assert st is not None and st.cpu is not None and st.memory_events is not None
    assert st.cpu.usage_us == 5_600_000  # app 5.0 s + sidecar 0.58 s + sandbox 0.02 s
    assert st.working_set == 100 * MIB  # 112 MiB less 12 MiB inactive_file
    assert st.memory_events["oom_kill"] == 3  # the app's cgroup (a new one per restart) says 1
    assert st.memory_max is None and st.io is not None and st.io["8:0"].wbytes == 4_259_840


def test_guaranteed_pod_limits() -> None:
    st = cs.read(paths(scan(SYSTEMD))[POD_C])
    assert st is not None and st.cpu_max is not None
    assert st.cpu_max.cpus == 2.0 and st.memory_max == 512 * MIB


def test_only_the_files_asked_for_are_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = os.open

    def counting(path: str, flags: int, *args: object, **kw: object) -> int:
        opened.append(path)
        return real(path, flags, *args, **kw)  # type: ignore[arg-type]

    path = paths(scan(SYSTEMD))[A1]  # the tree found and walked first
    monkeypatch.setattr(cs.os, "open", counting)
    st = cs.read(path, {CPU_STAT, MEMORY_CURRENT})
    assert st is not None and st.cpu is not None and st.memory_current == 100 * MIB
    assert st.memory_stat is None and st.io is None and st.pressure == {}
    assert st.working_set is None  # needs memory.stat too
    assert sorted(opened) == sorted([path, "cpu.stat", "memory.current"])  # names relative to it


def test_unknown_file_name_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"cpu\.weight"):
        cs.read(paths(scan(SYSTEMD))[A1], {CPU_STAT, "cpu.weight"})


def test_a_listed_container_whose_files_are_gone_reads_as_nothing() -> None:
    assert cs.read(paths(scan(SYSTEMD))[A3]) is None


def test_a_container_removed_between_scan_and_read_costs_only_itself(tmp_path: Path) -> None:
    root = copy(SYSTEMD, tmp_path / "root")
    s = scan(root)
    shutil.rmtree(paths(s)[A1])
    stats = {c.id: cs.read(c.path) for c in s.containers}
    assert stats[A1] is None and stats[A3] is None
    assert {k for k, v in stats.items() if v is not None} == {A0, A2, B0, B1, C0, C1, D1}


def test_a_missing_file_leaves_only_its_fields_empty(tmp_path: Path) -> None:
    root = copy(SYSTEMD, tmp_path / "root")
    path = paths(scan(root))[A1]
    os.remove(f"{path}/memory.stat")
    os.remove(f"{path}/io.pressure")
    st = cs.read(path)
    assert st is not None
    assert st.memory_stat is None and st.working_set is None and st.rss is None
    assert st.faults is None
    assert st.memory_current == 100 * MIB and st.cpu is not None
    assert set(st.pressure) == {"cpu", "memory"}


def test_hybrid_host_has_cpu_time_and_pressure_only() -> None:
    root = FIXTURES / "cgroup-hybrid"
    s = scan(root)
    assert [p.qos for p in s.pods] == ["besteffort"]
    st = cs.read(paths(s)["91" * 32])
    assert st is not None
    assert st.cpu == CpuStat(690_000, 496_000, 194_000)  # no cpu controller: no throttling lines
    assert st.memory_current is None and st.working_set is None and st.io is None
    assert st.pressure["cpu"]["some"].total_us == 4900


# --- the parsers on their own -----------------------------------------------------------------


def test_cpu_stat_without_the_cpu_controller() -> None:
    assert cs.parse_cpu_stat(b"usage_usec 7\nuser_usec 4\nsystem_usec 3\n") == \
        CpuStat(7, 4, 3, None, None, None)


def test_limits() -> None:
    assert cs.parse_limit(b"max\n") is None
    assert cs.parse_limit(b"9223372036854771712\n") == 9223372036854771712  # v1-sized u64
    assert cs.parse_cpu_max(b"max 100000\n") == CpuMax(None, 100_000)
    assert cs.parse_cpu_max(b"150000 50000\n").cpus == 3.0


def test_io_stat_with_keys_the_kernel_adds() -> None:
    data = (b"259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0 "
            b"cost.vrate=100.00 cost.usage=5 cost.wait=0 cost.indebt=0 cost.indelay=0\n"
            b"8:16 rbytes=3 wbytes=4 rios=5 wios=6\n")
    assert cs.parse_io_stat(data) == {"259:0": IOStat(10, 20, 1, 2), "8:16": IOStat(3, 4, 5, 6)}
    assert cs.parse_io_stat(b"") == {}
    assert cs.parse_io_stat(b"8:0 wbytes=2 rbytes=1 wios=4 rios=3\n\n") == \
        {"8:0": IOStat(1, 2, 3, 4)}  # another order still reads right


def test_memory_stat_converts_only_what_the_metrics_use() -> None:
    docker = SYSTEMD / "sys/fs/cgroup/system.slice" / f"docker-{D1}.scope"
    data = (docker / "memory.stat").read_bytes()
    assert data.count(b"\n") > 50
    assert cs.parse_memory_stat(data) == {
        "anon": 50 * MIB, "file": 10 * MIB, "active_file": 6 * MIB, "inactive_file": 4 * MIB,
        "pgfault": 70_000, "pgmajfault": 7}


def test_memory_stat_first_and_last_lines() -> None:
    assert cs.parse_memory_stat(b"anon 5\nfile_mapped 9\nfile 7\npgmajfault 2") == {
        "anon": 5, "file": 7, "pgmajfault": 2}


def test_working_set_never_below_zero() -> None:
    st = cs.CgroupStats(memory_current=100, memory_stat={"inactive_file": 150})
    assert st.working_set == 0


def test_pressure_lines() -> None:
    assert pressure.parse(b"some avg10=0.12 avg60=3.40 avg300=0.00 total=56\n") == {
        "some": Stall(0.12, 3.4, 0.0, 56)}
    assert pressure.parse(b"") == {}


def test_host_pressure_leaves_out_the_meaningless_cpu_full_line() -> None:
    assert pressure.read_host(f"{SYSTEMD}/proc") == {
        "cpu": {"some": Stall(0.42, 0.31, 0.12, 98_765_432)},
        "memory": {"some": Stall(0, 0, 0, 2_345_678), "full": Stall(0, 0, 0, 1_234_567)},
        "io": {"some": Stall(0, 0, 0, 34_567_890), "full": Stall(0, 0, 0, 23_456_789)},
    }


def test_host_without_psi(tmp_path: Path) -> None:
    assert pressure.read_host(str(tmp_path)) == {}


def test_devices_named_from_sysfs_once(tmp_path: Path) -> None:
    root = copy(SYSTEMD, tmp_path / "root")
    names = cs.DeviceNames(f"{root}/sys")
    assert (names("8:0"), names("253:0"), names("259:3")) == ("sda", "dm-0", "259:3")
    shutil.rmtree(root / "sys/dev")
    assert names("8:0") == "sda"  # remembered, not read again


# --- a node of 200 containers -----------------------------------------------------------------


def test_two_hundred_containers(tmp_path: Path) -> None:
    node = cgroup_tree.build(tmp_path, pods=50, per_pod=4)
    s = scan(tmp_path)
    assert {p.uid: p.qos for p in s.pods} == node.pods
    ids = {c.id for c in s.containers}
    assert ids == set(node.workloads) | node.sandboxes and len(node.workloads) == 200
    stats = {c.id: cs.read(c.path) for c in s.containers}
    n = 9  # pod 2's first workload (1-6: pod 1, its sandbox and workloads; 7, 8: pod 2, sandbox)
    st = stats[cgroup_tree.cid(n)]
    assert st is not None and st.cpu is not None
    assert st.cpu.usage_us == n * 1000 and st.working_set == 3 * n * MIB // 4
    assert st.faults == (99 * n, n) and st.memory_max is None and st.cpu_max is not None
    assert all(v is not None for v in stats.values())


def test_cgroupfs_node_scans_the_same(tmp_path: Path) -> None:
    node = cgroup_tree.build(tmp_path, pods=9, per_pod=2, driver="cgroupfs")
    s = scan(tmp_path)
    assert {p.uid: p.qos for p in s.pods} == node.pods
    assert {c.id for c in s.containers} == set(node.workloads) | node.sandboxes


def test_read_memory_stat_alone(tmp_path: Path) -> None:
    cgroup_tree.write_cgroup(tmp_path / "cg", 8)
    st = cs.read(str(tmp_path / "cg"), {MEMORY_STAT})
    assert st is not None and st.rss == 4 * MIB and st.memory_current is None
