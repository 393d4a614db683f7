"""The reader for platforms without /proc: psutil, mapped onto the same functions and records as
the Linux reader. psutil's errors become the built-in ones the Linux reads raise, so the
sources handle one kind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psutil

from agent.config.plain import Config
from agent.host.cycle import Cycle, Memo, per_cycle
from agent.host.paths import HostFS
from agent.host.records import (
    DiskStats,
    Glance,
    Memory,
    Mount,
    NetDev,
    ProcessStat,
    SocketCounts,
    Times,
    looks_like_partition,
)

# psutil's field names as cpu.mode values (softirq and Windows' dpc count as interrupt)
_MODES = {"user": "user", "nice": "nice", "system": "system", "idle": "idle",
          "iowait": "iowait", "irq": "interrupt", "softirq": "interrupt", "steal": "steal",
          "interrupt": "interrupt", "dpc": "interrupt"}


# psutil's process statuses as the conventions' process.state values
_STATES = {"running": "running", "waking": "running", "sleeping": "sleeping",
           "disk-sleep": "sleeping", "idle": "sleeping", "parked": "sleeping",
           "wake-kill": "sleeping", "waiting": "sleeping", "locked": "sleeping",
           "stopped": "stopped", "tracing-stop": "stopped", "zombie": "defunct"}
_WALK = ["status", "cpu_times", "memory_info", "create_time"]


def _times(t: Any) -> Times:
    out: Times = {}
    for name, value in t._asdict().items():
        mode = _MODES.get(name)
        if mode is not None:
            out[mode] = out.get(mode, 0.0) + value
    return out


def _process(pid: int) -> psutil.Process:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        raise ProcessLookupError(pid) from None


def _call(pid: int, fn: Any) -> Any:
    try:
        return fn()
    except psutil.NoSuchProcess:
        raise ProcessLookupError(pid) from None
    except psutil.AccessDenied:
        raise PermissionError(13, "permission denied", str(pid)) from None


class PsutilReader:
    def __init__(self, host: HostFS, cycle: Cycle, config: Config) -> None:
        self.host = host
        self.per_cpu = config.per_cpu
        self._procs: dict[int, psutil.Process] = {}
        self._boot: float | None = None
        self.memo = Memo(cycle)  # the walk of the process table, once per cycle

    def cpu_times(self) -> tuple[Times, list[Times]]:
        per = [_times(t) for t in psutil.cpu_times(percpu=True)] if self.per_cpu else []
        return _times(psutil.cpu_times()), per

    def logical_cpus(self) -> int:
        return psutil.cpu_count() or 0

    def physical_cores(self) -> int | None:
        return psutil.cpu_count(logical=False)

    def cpu_frequencies(self) -> list[float]:
        return [f.current * 1e6 for f in psutil.cpu_freq(percpu=True)]

    def memory(self) -> Memory:
        vm = psutil.virtual_memory()
        buffers, cached = getattr(vm, "buffers", 0), getattr(vm, "cached", 0)
        return Memory(vm.total, vm.free, buffers, cached, vm.available,
                      getattr(vm, "shared", None))

    def swap(self) -> tuple[int, int]:
        sw = psutil.swap_memory()
        return sw.used, sw.free

    def page_faults(self) -> tuple[int, int] | None:
        return None

    def paging_operations(self) -> dict[tuple[str, str], int]:
        return {}

    def disks(self) -> dict[str, DiskStats]:
        per = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
        return {dev: DiskStats(c.read_count, getattr(c, "read_merged_count", None), c.read_bytes,
                               c.read_time, c.write_count, getattr(c, "write_merged_count", None),
                               c.write_bytes, c.write_time, getattr(c, "busy_time", None))
                for dev, c in per.items()}

    def is_partition(self, device: str, devices: dict[str, DiskStats]) -> bool:
        return looks_like_partition(device, devices)

    def mounts(self) -> list[Mount]:
        return [Mount(p.device, p.mountpoint, p.fstype, tuple(p.opts.split(",")))
                for p in psutil.disk_partitions(all=True)]

    def interfaces(self) -> dict[str, NetDev]:
        return {nic: NetDev(c.bytes_recv, c.packets_recv, c.errin, c.dropin,
                            c.bytes_sent, c.packets_sent, c.errout, c.dropout)
                for nic, c in psutil.net_io_counters(pernic=True).items()}

    def sockets(self) -> SocketCounts:
        counts: SocketCounts = {}
        for c in psutil.net_connections(kind="inet"):
            transport = "tcp" if c.type == 1 else "udp"
            state = c.status.lower() if transport == "tcp" else None
            counts[(transport, state)] = counts.get((transport, state), 0) + 1
        return counts

    def load_averages(self) -> tuple[float, float, float]:
        return psutil.getloadavg()

    def boot_time(self) -> float:
        if self._boot is None:
            self._boot = psutil.boot_time()
        return self._boot

    def uptime(self) -> float:
        return max(time.time() - psutil.boot_time(), 0.0)

    def process_counts(self) -> dict[str, int]:
        return {}

    def processes_created(self) -> int | None:
        return None

    def process_ids(self) -> Iterator[tuple[int, str, list[str]]]:
        for p in psutil.process_iter(["name", "cmdline"]):
            yield p.pid, p.info["name"] or "", p.info["cmdline"] or []

    @per_cycle
    def process_walk(self) -> list[Glance]:
        out: list[Glance] = []
        for p in psutil.process_iter(_WALK):
            info = p.info
            cpu, mem, start = info["cpu_times"], info["memory_info"], info["create_time"]
            if cpu is not None and mem is not None and start is not None:  # None: denied
                out.append((p.pid, start, _STATES.get(info["status"]), cpu.user + cpu.system,
                            mem.rss))
        return out

    def _proc(self, pid: int) -> psutil.Process:
        p = self._procs.get(pid)
        if p is None or not p.is_running():  # a new process behind a reused pid
            p = self._procs[pid] = _process(pid)
        return p

    def process_stat(self, pid: int) -> ProcessStat:
        p = self._proc(pid)

        def read() -> ProcessStat:
            with p.oneshot():
                cpu, mem = p.cpu_times(), p.memory_info()
                return ProcessStat(cpu.user, cpu.system, mem.rss, mem.vms, p.num_threads(),
                                   None, None, round(p.create_time() * 1e9))

        return _call(pid, read)

    def process_name(self, pid: int) -> tuple[str, list[str]]:
        p = self._proc(pid)
        name = _call(pid, p.name)
        try:
            cmdline = _call(pid, p.cmdline)
        except PermissionError:
            cmdline = []
        return name, cmdline or [""]

    def process_exe(self, pid: int) -> str | None:
        try:
            return _call(pid, self._proc(pid).exe) or None
        except (PermissionError, ProcessLookupError, psutil.Error):
            return None

    def process_owner(self, pid: int) -> str | None:
        try:
            return _call(pid, self._proc(pid).username) or None
        except (PermissionError, KeyError, psutil.Error):  # KeyError: a uid with no name
            return None

    def process_parent(self, pid: int) -> int | None:
        return _call(pid, self._proc(pid).ppid)

    def process_fds(self, pid: int) -> int:
        p = self._proc(pid)
        return _call(pid, p.num_fds if hasattr(p, "num_fds") else p.num_handles)

    def process_io(self, pid: int) -> tuple[int, int]:
        io = _call(pid, self._proc(pid).io_counters)
        return io.read_bytes, io.write_bytes

    def process_switches(self, pid: int) -> tuple[int, int]:
        sw = _call(pid, self._proc(pid).num_ctx_switches)
        return sw.voluntary, sw.involuntary

    def forget(self, pids: set[int]) -> None:
        for pid in pids:
            self._procs.pop(pid, None)
