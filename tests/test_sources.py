"""Each source against a fixture host root whose values are known (and unlike this machine's)."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from agent.catalog import BY_NAME
from agent.hostfs import HostFS
from agent.procfs import CLK_TCK
from agent.sources import REGISTRY, Context
from agent.sources.base import NameFilter

FIXTURE = Path(__file__).parent / "fixtures" / "hostroot"
KIB = 1024


def ctx(root: Path = FIXTURE, **kw: object) -> Context:
    kw.setdefault("disks", NameFilter((), ("loop*",)))
    kw.setdefault("fs_types", NameFilter((), ("proc", "tmpfs", "overlay")))
    return Context(host=HostFS(str(root)), **kw)  # type: ignore[arg-type]


def observe(source: str, metric: str, context: Context | None = None) -> dict[tuple, float]:
    src = REGISTRY[source](context or ctx())
    return {tuple(sorted(a.items())): v for v, a in src.observers()[metric]()}


def by(points: dict[tuple, float], key: str) -> dict[object, float]:
    return {dict(k)[key]: v for k, v in points.items()}


def test_every_catalog_metric_has_an_observer() -> None:
    c = ctx()
    names = {n for cls in REGISTRY.values() for n in cls(c).observers()}
    assert names == set(BY_NAME)


def test_cpu_time_by_mode() -> None:
    t = by(observe("cpu", "system.cpu.time"), "cpu.mode")
    assert t["user"] == 10000 / CLK_TCK
    assert t["idle"] == 80000 / CLK_TCK
    assert t["interrupt"] == 200 / CLK_TCK and t["softirq"] == 300 / CLK_TCK
    assert set(t) == {"user", "nice", "system", "idle", "iowait", "interrupt", "softirq", "steal"}


def test_cpu_utilization_from_the_change_between_cycles(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    c = ctx(root, interval=0.001)
    cpu = REGISTRY["cpu"](c)
    stat = root / "proc" / "stat"
    # 100 more ticks: 25 user, 75 idle
    stat.write_text(stat.read_text().replace("cpu  10000 500 3000 80000",
                                             "cpu  10025 500 3000 80075"))
    c.shared.memo.entries.clear()
    util = {a["cpu.mode"]: v for v, a in cpu.observers()["system.cpu.utilization"]()}
    assert util["user"] == pytest.approx(0.25)
    assert util["idle"] == pytest.approx(0.75)
    assert sum(util.values()) == pytest.approx(1.0)


def test_cpu_time_never_goes_backwards(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    c = ctx(root, interval=0.001)
    cpu = REGISTRY["cpu"](c)
    first = {a["cpu.mode"]: v for v, a in cpu.observers()["system.cpu.time"]()}
    stat = root / "proc" / "stat"
    # iowait stepping back, as some kernels do
    stat.write_text(stat.read_text().replace(" 80000 1000 ", " 80000 990 "))
    c.shared.memo.entries.clear()
    cpu.memo.entries.clear()
    second = {a["cpu.mode"]: v for v, a in cpu.observers()["system.cpu.time"]()}
    assert second["iowait"] == first["iowait"]


def test_per_cpu_series_carry_the_logical_number() -> None:
    points = observe("cpu", "system.cpu.time", ctx(per_cpu=True))
    cpus = {dict(k)["cpu.logical_number"] for k in points}
    assert cpus == {0, 1}
    assert observe("cpu", "system.cpu.logical.count") == {(): 2}


def test_load_averages() -> None:
    assert observe("load", "system.cpu.load_average.1m") == {(): 1.5}
    assert observe("load", "system.cpu.load_average.15m") == {(): 0.25}


def test_memory_states_sum_to_total() -> None:
    usage = by(observe("memory", "system.memory.usage"), "system.memory.state")
    total = 16000000 * KIB
    assert usage["free"] == 4000000 * KIB
    assert usage["buffers"] == 500000 * KIB
    assert usage["cached"] == (5000000 + 600000) * KIB  # Cached + SReclaimable
    assert sum(usage.values()) == total
    assert observe("memory", "system.memory.limit") == {(): total}
    assert observe("memory", "system.memory.linux.available") == {(): 10000000 * KIB}
    util = by(observe("memory", "system.memory.utilization"), "system.memory.state")
    assert sum(util.values()) == pytest.approx(1.0)


def test_paging() -> None:
    usage = by(observe("paging", "system.paging.usage"), "system.paging.state")
    assert usage == {"used": 500000 * KIB, "free": 1500000 * KIB}
    faults = by(observe("paging", "system.paging.faults"), "system.paging.fault.type")
    assert faults == {"minor": 9000000 - 1234, "major": 1234}
    ops = {(dict(k)["system.paging.direction"], dict(k)["system.paging.fault.type"]): v
           for k, v in observe("paging", "system.paging.operations").items()}
    assert ops[("in", "major")] == 333 and ops[("out", "minor")] == 222222


def test_disk_counters_and_filters() -> None:
    io = observe("disk", "system.disk.io")
    devices = {dict(k)["system.device"] for k in io}
    assert devices == {"sda", "sda1", "nvme0n1"}  # loop0 dropped by the filter
    assert io[(("disk.io.direction", "read"), ("system.device", "sda"))] == 20000 * 512
    busy = by(observe("disk", "system.disk.io_time"), "system.device")
    assert busy["sda"] == 7.0
    only = observe("disk", "system.disk.operations", ctx(disks=NameFilter(("nvme*",), ())))
    assert {dict(k)["system.device"] for k in only} == {"nvme0n1"}


def test_network_reads_the_host_namespace() -> None:
    io = observe("network", "system.network.io")
    nics = {dict(k)["network.interface.name"] for k in io}
    assert nics == {"lo", "ens5", "veth1234"}  # proc/1/net/dev, not the container's proc/net
    rx = {(dict(k)["network.interface.name"], dict(k)["network.io.direction"]): v
          for k, v in io.items()}
    assert rx[("ens5", "receive")] == 123456789 and rx[("ens5", "transmit")] == 987654321
    dropped = observe("network", "system.network.packet.dropped",
                      ctx(interfaces=NameFilter((), ("veth*",))))
    assert {dict(k)["network.interface.name"] for k in dropped} == {"lo", "ens5"}


def test_connection_counts_by_transport_and_state() -> None:
    conns = {tuple(v for _, v in k): n
             for k, n in observe("network", "system.network.connection.count").items()}
    assert conns[("listen", "tcp")] == 3  # two IPv4, one IPv6
    assert conns[("established", "tcp")] == 2
    assert conns[("time_wait", "tcp")] == 1
    assert conns[("udp",)] == 2


def test_processes_and_uptime() -> None:
    counts = by(observe("processes", "system.process.count"), "process.state")
    assert counts == {"running": 3, "blocked": 1}
    assert observe("processes", "system.process.created") == {(): 43210}
    (uptime,) = observe("system", "system.uptime").values()
    import time

    assert uptime == pytest.approx(time.time() - 1700000000, abs=5)


def test_filesystems_as_the_host_names_them() -> None:
    usage = observe("filesystem", "system.filesystem.usage")
    mounts = {(dict(k)["system.filesystem.mountpoint"], dict(k)["system.device"],
               dict(k)["system.filesystem.mode"]) for k in usage}
    # host paths from proc/1/mounts; pseudo filesystems filtered; the missing mount skipped
    assert mounts == {("/", "/dev/sda1", "rw"), ("/data", "fileserver:/export", "ro")}
    root = {dict(k)["system.filesystem.state"]: v for k, v in usage.items()
            if dict(k)["system.filesystem.mountpoint"] == "/"}
    assert root["used"] + root["free"] + root["reserved"] > 0
    util = observe("filesystem", "system.filesystem.utilization")
    assert all(0 <= v <= 1 for v in util.values())


def test_process_self_has_identity_attributes() -> None:
    import os

    points = observe("process", "process.memory.usage", Context())
    ((attrs, rss),) = points.items()
    a = dict(attrs)
    assert a["process.pid"] == os.getpid()
    assert a["process.executable.name"]
    assert rss > 1_000_000
    cpu = by(observe("process", "process.cpu.time", Context()), "cpu.mode")
    assert set(cpu) == {"user", "system"} and cpu["user"] > 0


def test_reads_happen_once_per_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.procfs as procfs

    calls = {"stat": 0}
    real = procfs.read_stat

    def counting(proc: str, per_cpu: bool = True) -> procfs.ProcStat:
        calls["stat"] += 1
        return real(proc, per_cpu)

    monkeypatch.setattr(procfs, "read_stat", counting)
    c = ctx()
    sources = [REGISTRY[n](c) for n in ("cpu", "processes", "system")]
    c.shared.memo.entries.clear()  # a new cycle (the cpu source primed itself at start)
    calls["stat"] = 0
    for src in sources:
        for observer in src.observers().values():
            list(observer())
    assert calls["stat"] == 1


# --- other platforms: fixed psutil data through the psutil code paths ----------------------

def test_cpu_and_memory_without_procfs(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.sources.cpu as cpu_mod
    import agent.sources.memory as mem_mod

    T = namedtuple("T", "user nice system idle")
    monkeypatch.setattr(cpu_mod, "LINUX", False)
    monkeypatch.setattr(mem_mod, "LINUX", False)
    import psutil

    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: T(1.0, 0.0, 2.0, 7.0))
    VM = namedtuple("VM", "total available percent used free active inactive wired")
    monkeypatch.setattr(psutil, "virtual_memory",
                        lambda: VM(1000, 600, 40.0, 400, 100, 300, 200, 100))
    t = by(observe("cpu", "system.cpu.time", Context()), "cpu.mode")
    assert t == {"user": 1.0, "nice": 0.0, "system": 2.0, "idle": 7.0}
    usage = by(observe("memory", "system.memory.usage", Context()), "system.memory.state")
    assert usage["used"] == 400 and sum(usage.values()) == 1000


def test_netlink_and_proc_agree_on_listening_sockets() -> None:
    import socket

    from agent import procfs, sockdiag

    listeners = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        listeners.append(s)
    try:
        via_netlink = sockdiag.count_sockets()[("tcp", "listen")]
        via_proc = procfs.count_sockets("/proc/net")[("tcp", "listen")]
        assert via_netlink == via_proc >= 3
    finally:
        for s in listeners:
            s.close()


def test_pid_reads_agree_with_psutil() -> None:
    import os

    import psutil

    from agent import procfs

    me = psutil.Process()
    st = procfs.read_pid_stat("/proc", os.getpid())
    with me.oneshot():
        assert st.threads == me.num_threads()
        assert st.vsize == me.memory_info().vms
        assert abs(st.rss - me.memory_info().rss) < 4 * 2**20
        assert st.user <= me.cpu_times().user + 0.02
        sw = me.num_ctx_switches()
    vol, invol = procfs.read_pid_switches("/proc", os.getpid())
    assert vol >= sw.voluntary and invol >= sw.involuntary
    assert procfs.read_pid_io("/proc", os.getpid())[0] >= 0
    assert procfs.count_pid_fds("/proc", os.getpid()) == me.num_fds()


def test_the_agents_own_garbage_collection_by_generation() -> None:
    import gc

    before = [g["collections"] for g in gc.get_stats()]
    gc.collect(1)  # one collection of generations 0 and 1, counted under 1
    counts = by(observe("agent", "cpython.gc.collections"), "cpython.gc.generation")
    assert set(counts) == {0, 1, 2}
    assert counts[1] >= before[1] + 1 and counts[2] >= before[2]
    freed = by(observe("agent", "cpython.gc.collected_objects"), "cpython.gc.generation")
    assert all(v >= 0 for v in freed.values()) and len(freed) == 3
