"""The Linux reader: the agent's own parsers of /proc and /sys, through the host root.

psutil re-reads /proc/stat, /proc/meminfo and /proc/vmstat for each of its calls and knows no
host root for network namespaces; here each of those files is read once per cycle and shared by
every source that uses it, and nothing touches psutil's global state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from agent.host import procfs, sockdiag
from agent.host.cycle import Cycle, Memo, per_cycle
from agent.host.files import read_bytes
from agent.host.paths import HostFS
from agent.host.records import (
    DiskStats,
    Memory,
    Mount,
    NetDev,
    ProcessStat,
    SocketCounts,
    Times,
    looks_like_partition,
)

log = logging.getLogger("agent.host")

# What the memory, paging and process sources use of these files.
MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SReclaimable",
                "SUnreclaim", "Shmem", "SwapTotal", "SwapFree")
VMSTAT_KEYS = ("pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")
# Swapping moves pages to and from swap (major); paging is all block I/O of pages (minor).
PAGING = (("pswpin", "in", "major"), ("pswpout", "out", "major"),
          ("pgpgin", "in", "minor"), ("pgpgout", "out", "minor"))


class LinuxReader:
    def __init__(self, host: HostFS, cycle: Cycle, per_cpu: bool = False) -> None:
        self.host = host
        self.per_cpu = per_cpu
        self.memo = Memo(cycle)  # the files several sources share, read once per cycle
        self._partitions: dict[str, bool] = {}
        # netlink sees our own network namespace: right unless reading another host root
        self._netlink = not host.contained
        self._sockets = sockdiag.SocketCounter()

    # -- shared files ------------------------------------------------------------------------
    @per_cycle
    def stat(self) -> procfs.ProcStat:
        return procfs.read_stat(self.host.proc, self.per_cpu)

    @per_cycle
    def meminfo(self) -> dict[str, int]:
        return procfs.read_keyed(f"{self.host.proc}/meminfo", 1024, MEMINFO_KEYS)

    @per_cycle
    def vmstat(self) -> dict[str, int]:
        return procfs.read_keyed(f"{self.host.proc}/vmstat", 1, VMSTAT_KEYS)

    # -- cpu ---------------------------------------------------------------------------------
    def cpu_times(self) -> tuple[Times, list[Times]]:
        st = self.stat()
        return st.cpu, st.per_cpu

    def logical_cpus(self) -> int:
        return self.stat().ncpu

    def physical_cores(self) -> int | None:
        return procfs.read_physical_cores(self.host.proc)

    def cpu_frequencies(self) -> list[float]:
        """cpuinfo's `cpu MHz` (the kernel's cached figure, as psutil prefers it), else each
        CPU's cpufreq scaling_cur_freq."""
        mhz = procfs.read_cpuinfo_mhz(self.host.proc)
        if mhz:
            return [m * 1e6 for m in mhz]
        out = []
        for n in range(self.logical_cpus()):
            path = f"{self.host.sys}/devices/system/cpu/cpu{n}/cpufreq/scaling_cur_freq"
            try:
                out.append(int(read_bytes(path)) * 1e3)  # kHz
            except ValueError as exc:
                raise procfs.malformed(path, exc) from None
        return out

    # -- memory and paging -------------------------------------------------------------------
    def _need(self, values: dict[str, int], file: str, *keys: str) -> None:
        for key in keys:
            if key not in values:
                raise ValueError(f"{self.host.proc}/{file} has no {key} line")

    def memory(self) -> Memory:
        m = self.meminfo()
        self._need(m, "meminfo", "MemTotal", "MemFree")
        total, free = m["MemTotal"], m["MemFree"]
        buffers = m.get("Buffers", 0)
        cached = m.get("Cached", 0) + m.get("SReclaimable", 0)  # as free(1) and psutil count it
        available = m.get("MemAvailable", free + buffers + cached)
        return Memory(total, free, buffers, cached, min(available, total), m.get("Shmem"),
                      m.get("SReclaimable"), m.get("SUnreclaim"))

    def swap(self) -> tuple[int, int]:
        m = self.meminfo()
        self._need(m, "meminfo", "SwapTotal", "SwapFree")
        total, free = m["SwapTotal"], m["SwapFree"]
        return total - free, free

    def page_faults(self) -> tuple[int, int] | None:
        vm = self.vmstat()
        if "pgfault" not in vm:
            return None
        major = vm.get("pgmajfault", 0)
        return vm["pgfault"] - major, major

    def paging_operations(self) -> dict[tuple[str, str], int]:
        vm = self.vmstat()
        return {(direction, kind): vm[key] for key, direction, kind in PAGING if key in vm}

    # -- storage -----------------------------------------------------------------------------
    def disks(self) -> dict[str, DiskStats]:
        return procfs.read_diskstats(self.host.proc)

    def is_partition(self, device: str, devices: dict[str, DiskStats]) -> bool:
        verdict = self._partitions.get(device)
        if verdict is None:
            if len(self._partitions) > 2 * len(devices) + 64:  # devices that went away
                self._partitions = {d: v for d, v in self._partitions.items() if d in devices}
            block = f"{self.host.sys}/class/block"
            verdict = (os.path.exists(f"{block}/{device}/partition") if os.path.isdir(block)
                       else looks_like_partition(device, devices))
            self._partitions[device] = verdict
        return verdict

    def mounts(self) -> list[Mount]:
        # pid 1's mount table is the host's (a host root, or a systemd unit whose private
        # namespace would show every filesystem read-only); our own where it is hidden.
        try:
            return procfs.read_mounts(f"{self.host.proc}/1/mounts")
        except (PermissionError, FileNotFoundError):
            if self.host.contained:
                raise
            return procfs.read_mounts(f"{self.host.proc}/self/mounts")

    # -- network -----------------------------------------------------------------------------
    def interfaces(self) -> dict[str, NetDev]:
        return procfs.read_net_dev(f"{self.host.net}/dev")

    def sockets(self) -> SocketCounts:
        if self._netlink:
            try:
                return self._sockets.count()
            except OSError as exc:  # no sock_diag here (old kernel, seccomp): use /proc
                log.info("netlink sock_diag unavailable (%s); counting sockets from %s",
                         exc.strerror or exc, self.host.net)
                self._netlink = False
        return procfs.count_sockets(self.host.net)

    # -- system ------------------------------------------------------------------------------
    def load_averages(self) -> tuple[float, float, float]:
        path = f"{self.host.proc}/loadavg"
        try:
            a, b, c = read_bytes(path).split()[:3]
            return float(a), float(b), float(c)
        except ValueError as exc:
            raise procfs.malformed(path, exc) from None

    def boot_time(self) -> float:
        btime = self.stat().btime
        if btime is None:
            raise ValueError(f"{self.host.proc}/stat has no btime line")
        return float(btime)

    def process_counts(self) -> dict[str, int]:
        # /proc/stat's summary lines: constant cost however many processes the host runs
        st = self.stat()
        out = {}
        if st.procs_running is not None:
            out["running"] = st.procs_running
        if st.procs_blocked is not None:
            out["blocked"] = st.procs_blocked
        return out

    def processes_created(self) -> int | None:
        return self.stat().processes

    # -- processes ---------------------------------------------------------------------------
    def process_ids(self) -> Iterator[tuple[int, str, list[str]]]:
        for entry in os.listdir(self.host.proc):
            if entry.isdigit():
                pid = int(entry)
                try:
                    name, cmdline = procfs.read_pid_name(self.host.proc, pid)
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue  # gone since the listing, or hidden from us
                yield pid, name, cmdline

    def process_stat(self, pid: int) -> ProcessStat:
        st = procfs.read_pid_stat(self.host.proc, pid)
        return ProcessStat(st.user, st.system, st.rss, st.vsize, st.threads, st.minflt,
                           st.majflt, st.starttime)

    def process_name(self, pid: int) -> tuple[str, list[str]]:
        return procfs.read_pid_name(self.host.proc, pid)

    def process_fds(self, pid: int) -> int:
        return procfs.count_pid_fds(self.host.proc, pid)

    def process_io(self, pid: int) -> tuple[int, int]:
        return procfs.read_pid_io(self.host.proc, pid)

    def process_switches(self, pid: int) -> tuple[int, int]:
        return procfs.read_pid_switches(self.host.proc, pid)

    def forget(self, pids: set[int]) -> None:
        pass  # nothing is kept per process
