"""The Linux reader: the agent's own parsers of /proc and /sys, through the host root.

psutil re-reads /proc/stat, /proc/meminfo and /proc/vmstat for each of its calls and knows no
host root for network namespaces; here each of those files is read once per cycle and shared by
every source that uses it, and nothing touches psutil's global state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from agent.config.files import read_bytes
from agent.config.plain import Config
from agent.host import procfs, sockdiag, sockstat
from agent.host.cycle import Cycle, Memo, every_cycles, per_cycle
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
from agent.host.users import Users

log = logging.getLogger("agent.host")

# What the memory, paging and process sources use of these files.
MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SReclaimable",
                "SUnreclaim", "Shmem", "SwapTotal", "SwapFree")
VMSTAT_KEYS = ("pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")
# Swapping moves pages to and from swap (major); paging is all block I/O of pages (minor).
PAGING = (("pswpin", "in", "major"), ("pswpout", "out", "major"),
          ("pgpgin", "in", "minor"), ("pgpgout", "out", "minor"))
STATES_MAX_AGE = 60.0  # seconds: the longest sockets by state go without a walk


class LinuxReader:
    def __init__(self, host: HostFS, cycle: Cycle, config: Config) -> None:
        self.host = host
        self.cycle = cycle
        self.per_cpu = config.per_cpu
        self.memo = Memo(cycle)  # the files several sources share, read once per cycle
        self._partitions: dict[str, bool] = {}
        # netlink sees our own network namespace: right unless reading a host root whose
        # pid 1 lives in another one
        self._netlink = not host.contained or sockdiag.sees(host.net)
        self._sockets = sockdiag.SocketCounter()
        # TCP sockets by state cost a walk of the kernel's connection table: it is redone when
        # the kernel's socket counters moved, and otherwise once a minute (host/sockstat.py).
        self._totals: sockstat.Counters | None = sockstat.Counters(host.net)
        self._states = sockstat.StatesCache(every_cycles(STATES_MAX_AGE, config.interval))
        self._boot: float | None = None
        self._users = Users(host)

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
        totals = self._read_totals()
        if totals is None:  # no counters to go by: walk every cycle
            return self._walk(udp=True)
        tcp = self._states.get(totals.tcp, self.cycle.number, lambda: self._walk(udp=False))
        return {**tcp, ("udp", None): totals.udp} if totals.udp else dict(tcp)

    def _read_totals(self) -> sockstat.Totals | None:
        if self._totals is not None:
            try:
                return self._totals.read()
            except (OSError, ValueError) as exc:
                why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else exc
                log.info("socket counters unreadable (%s); counting sockets by state every "
                         "cycle", why)
                self._totals.close()
                self._totals = None
        return None

    def _walk(self, udp: bool) -> SocketCounts:
        """Sockets by (transport, state): one walk of the kernel's tables."""
        if self._netlink:
            try:
                return self._sockets.count(udp=udp)
            except OSError as exc:  # no sock_diag here (old kernel, seccomp): use /proc
                log.info("netlink sock_diag unavailable (%s); counting sockets from %s",
                         exc.strerror or exc, self.host.net)
                self._netlink = False
        counts = procfs.count_sockets(self.host.net)
        return counts if udp else {k: n for k, n in counts.items() if k[0] == "tcp"}

    # -- system ------------------------------------------------------------------------------
    def load_averages(self) -> tuple[float, float, float]:
        path = f"{self.host.proc}/loadavg"
        try:
            a, b, c = read_bytes(path).split()[:3]
            return float(a), float(b), float(c)
        except ValueError as exc:
            raise procfs.malformed(path, exc) from None

    def boot_time(self) -> float:
        if self._boot is None:
            btime = self.stat().btime
            if btime is None:
                raise ValueError(f"{self.host.proc}/stat has no btime line")
            self._boot = float(btime)
        return self._boot

    def uptime(self) -> float:
        path = f"{self.host.proc}/uptime"
        try:
            return float(read_bytes(path).split()[0])
        except (ValueError, IndexError) as exc:
            raise procfs.malformed(path, exc) from None

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

    @per_cycle
    def process_walk(self) -> list[Glance]:
        return procfs.read_glances(self.host.proc)

    def process_stat(self, pid: int) -> ProcessStat:
        st = procfs.read_pid_stat(self.host.proc, pid)
        status = procfs.read_pid_status(self.host.proc, pid)
        # start ticks after the kept boot time, as psutil and the collector compute it
        created = round(self.boot_time() * 1e9) + st.starttime * 1_000_000_000 // procfs.CLK_TCK
        return ProcessStat(st.user, st.system, status.rss, status.vms, st.threads, st.minflt,
                           st.majflt, created, (status.voluntary, status.involuntary))

    def process_name(self, pid: int) -> tuple[str, list[str]]:
        return procfs.read_pid_name(self.host.proc, pid)

    def process_exe(self, pid: int) -> str | None:
        try:
            return os.readlink(f"{self.host.proc}/{pid}/exe")
        except OSError:  # another user's process, a kernel thread, a zombie
            return None

    def process_owner(self, pid: int) -> str | None:
        return self._users.name(procfs.read_pid_status(self.host.proc, pid).uid)

    def process_parent(self, pid: int) -> int | None:
        return procfs.read_pid_stat(self.host.proc, pid).ppid

    def process_fds(self, pid: int) -> int:
        return procfs.count_pid_fds(self.host.proc, pid)

    def process_io(self, pid: int) -> tuple[int, int]:
        return procfs.read_pid_io(self.host.proc, pid)

    def process_switches(self, pid: int) -> tuple[int, int]:
        status = procfs.read_pid_status(self.host.proc, pid)
        return status.voluntary, status.involuntary

    def forget(self, pids: set[int]) -> None:
        pass  # nothing is kept per process
