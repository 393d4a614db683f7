"""Small parsers for the Linux /proc files that several metrics share.

psutil re-reads /proc/stat, /proc/meminfo and /proc/vmstat for each of its calls and knows no
host root for network namespaces; these parsers read each file once per cycle from a path the
caller chooses (the host root's proc when running in a container).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from agent.config.files import read_bytes
from agent.host.records import DiskStats, Glance, Mount, NetDev

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# TCP states as /proc/net/tcp numbers them, named as network.connection.state values.
TCP_STATES = {
    "01": "established", "02": "syn_sent", "03": "syn_received", "04": "fin_wait_1",
    "05": "fin_wait_2", "06": "time_wait", "07": "closed", "08": "close_wait",
    "09": "last_ack", "0A": "listen", "0B": "closing",
}


@dataclass(slots=True)
class ProcStat:
    cpu: dict[str, float] = field(default_factory=dict)
    per_cpu: list[dict[str, float]] = field(default_factory=list)
    ncpu: int = 0  # cpuN lines, parsed or not
    procs_running: int | None = None
    procs_blocked: int | None = None
    processes: int | None = None
    btime: int | None = None


# /proc/stat's cpu columns as cpu.mode values: user nice system idle iowait irq softirq steal
# (older kernels stop earlier); irq and softirq both count as `interrupt`.
_STAT_COLUMNS = ("user", "nice", "system", "idle", "iowait", "interrupt", "interrupt", "steal")


def malformed(path: str, exc: Exception) -> ValueError:
    """One line naming the file a parser could not make sense of (a truncated line, text
    where a number belongs), instead of the parser's own IndexError or ValueError."""
    return ValueError(f"{path}: malformed ({type(exc).__name__}: {exc})")


def _cpu_line(fields: list[bytes]) -> dict[str, float]:
    ticks: dict[str, int] = {}
    for mode, v in zip(_STAT_COLUMNS, fields[1:9], strict=False):
        ticks[mode] = ticks.get(mode, 0) + int(v)
    return {mode: n / CLK_TCK for mode, n in ticks.items()}


def read_stat(proc: str, per_cpu: bool = True) -> ProcStat:
    """/proc/stat: totals always, each CPU's line only when asked for. Lines are told apart
    by their first bytes, so the long `intr` line of a big host is never split."""
    st = ProcStat()
    path = f"{proc}/stat"
    data = read_bytes(path)
    try:
        for line in data.split(b"\n"):
            if line.startswith(b"cpu"):
                if line.startswith(b"cpu "):
                    st.cpu = _cpu_line(line.split())
                else:
                    st.ncpu += 1
                    if per_cpu:
                        st.per_cpu.append(_cpu_line(line.split()))
            elif line.startswith(b"procs_"):
                key, value = line.split()[:2]
                if key == b"procs_running":
                    st.procs_running = int(value)
                elif key == b"procs_blocked":
                    st.procs_blocked = int(value)
            elif line.startswith(b"processes "):
                st.processes = int(line.split()[1])
            elif line.startswith(b"btime "):
                st.btime = int(line.split()[1])
    except (ValueError, IndexError) as exc:
        raise malformed(path, exc) from None
    if not st.cpu:
        raise ValueError(f"{path} has no cpu line")
    return st


_KEYED = re.compile(rb"^([^\s:]+):?\s+(\d+)", re.MULTILINE)


def read_keyed(path: str, scale: int = 1, keys: tuple[str, ...] | None = None
               ) -> dict[str, int]:
    """Parse `key value [unit]` files such as meminfo (kB, scale=1024) and vmstat.

    One regular-expression pass (in C) instead of a Python loop over ~200 vmstat lines; with
    `keys`, only those are converted."""
    raw = dict(_KEYED.findall(read_bytes(path)))
    if keys is None:
        return {k.decode(): int(v) * scale for k, v in raw.items()}
    return {k: int(raw[b]) * scale for k in keys if (b := k.encode()) in raw}


def read_cpuinfo_mhz(proc: str) -> list[float]:
    """Each logical CPU's `cpu MHz` line in /proc/cpuinfo (none on some architectures)."""
    path = f"{proc}/cpuinfo"
    try:
        return [float(line.partition(b":")[2]) for line in read_bytes(path).split(b"\n")
                if line.lower().startswith(b"cpu mhz")]
    except ValueError as exc:
        raise malformed(path, exc) from None


def read_physical_cores(proc: str) -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo; None where it does not say (ARM)."""
    cores: set[tuple[bytes, bytes]] = set()
    package = b""
    for line in read_bytes(f"{proc}/cpuinfo").split(b"\n"):
        if line.startswith(b"physical id"):
            package = line.partition(b":")[2].strip()
        elif line.startswith(b"core id"):
            cores.add((package, line.partition(b":")[2].strip()))
    return len(cores) or None


def read_net_dev(path: str) -> dict[str, NetDev]:
    out: dict[str, NetDev] = {}
    lines = read_bytes(path).decode("utf-8", "replace").splitlines()[2:]
    try:
        for line in lines:
            name, _, rest = line.partition(":")
            v = rest.split()
            if len(v) < 12:
                continue
            out[name.strip()] = NetDev(int(v[0]), int(v[1]), int(v[2]), int(v[3]),
                                       int(v[8]), int(v[9]), int(v[10]), int(v[11]))
    except ValueError as exc:
        raise malformed(path, exc) from None
    return out


def count_sockets(net_dir: str) -> dict[tuple[str, str | None], int]:
    """Count sockets by (transport, state) from /proc/net/{tcp,tcp6,udp,udp6}.

    Reads the kernel's socket tables directly: psutil.net_connections() would also walk every
    process's file descriptors to map sockets to pids, which is most of its cost.
    """
    counts: dict[tuple[str, str | None], int] = {}
    for transport, files in (("tcp", ("tcp", "tcp6")), ("udp", ("udp", "udp6"))):
        for name in files:
            try:
                data = read_bytes(f"{net_dir}/{name}")
            except FileNotFoundError:  # no IPv6 in this kernel or namespace
                continue
            for line in data.split(b"\n")[1:]:
                parts = line.split(None, 4)
                if len(parts) < 4:
                    continue
                # UDP has no connection state: its series carry the transport alone.
                state = (TCP_STATES.get(parts[3].decode("ascii", "replace"), "unknown")
                         if transport == "tcp" else None)
                key = (transport, state)
                counts[key] = counts.get(key, 0) + 1
    return counts


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class PidStat:
    user: float  # seconds
    system: float
    minflt: int
    majflt: int
    threads: int
    starttime: int  # clock ticks after boot: with the pid, identifies the process
    ppid: int


def read_pid_stat(proc: str, pid: int) -> PidStat:
    """One read of /proc/<pid>/stat gives CPU time, faults, threads and the start time."""
    data = read_bytes(f"{proc}/{pid}/stat")
    v = data[data.rindex(b")") + 2 :].split()  # the name may hold spaces and parentheses
    return PidStat(int(v[11]) / CLK_TCK, int(v[12]) / CLK_TCK, int(v[7]), int(v[9]),
                   int(v[17]), int(v[19]), int(v[1]))


# /proc/<pid>/stat's state letters as the conventions' process.state values: uninterruptible
# (D), idle kernel threads (I) and parked ones (P) sleep; traced (t) is stopped; X (dead) is
# a process on its way out and not counted.
PROCESS_STATES = {b"R": "running", b"S": "sleeping", b"D": "sleeping", b"I": "sleeping",
                  b"P": "sleeping", b"K": "sleeping", b"W": "running", b"T": "stopped",
                  b"t": "stopped", b"Z": "defunct"}
_WALK_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_glances(proc: str) -> list[Glance]:
    """Every process of the host as one small read of /proc/<pid>/stat gives it, to rank it:
    (pid, start ticks, process.state, CPU seconds, resident bytes). stat's rss field is the
    kernel's per-CPU-cached counter, a little behind status' VmRSS on current kernels: close
    enough to rank by. One open, read and close per process, and no more: this runs for every
    process on the host every cycle, so there is no fstat as read_bytes has; opened
    non-blocking and read once, bounded, nothing planted there can stall the walk, and an entry
    that does not parse is skipped."""
    out: list[Glance] = []
    state = PROCESS_STATES.get
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            fd = os.open(f"{proc}/{entry}/stat", _WALK_FLAGS)
        except OSError:  # gone since the listing, or hidden from us
            continue
        try:  # the fields up to rss take 400 bytes at the very most
            data = os.read(fd, 1024)
        except OSError:  # exited between the open and the read
            continue
        finally:
            os.close(fd)
        try:  # the name may hold spaces and parentheses; fields after it up to rss
            v = data[data.rindex(b")") + 2 :].split(None, 22)
            out.append((int(entry), int(v[19]), state(v[0]),
                        (int(v[11]) + int(v[12])) / CLK_TCK, int(v[21]) * PAGE_SIZE))
        except (ValueError, IndexError):  # empty (a zombie's last moment) or not a stat file
            continue
    return out


@dataclass(frozen=True, slots=True)
class PidStatus:
    rss: int  # bytes
    vms: int  # bytes
    voluntary: int  # context switches
    involuntary: int
    uid: int  # the real user id, whose name is process.owner


def _status_field(data: bytes, key: bytes) -> int:
    """The number after `key` in /proc/<pid>/status; 0 where the line is absent (VmRSS of a
    kernel thread or a zombie)."""
    at = data.find(key)
    if at < 0:
        return 0
    at += len(key)
    return int(data[at : data.index(b"\n", at)].split()[0])


def read_pid_status(proc: str, pid: int) -> PidStatus:
    """/proc/<pid>/status: resident and virtual size (VmRSS, VmSize: the counters psutil and
    the collector read, through statm; the rss field of /proc/<pid>/stat disagrees with them on
    current kernels), context switches and the real uid (the first of the Uid line), in one
    read."""
    data = read_bytes(f"{proc}/{pid}/status")
    return PidStatus(_status_field(data, b"\nVmRSS:") * 1024,
                     _status_field(data, b"\nVmSize:") * 1024,
                     _status_field(data, b"\nvoluntary_ctxt_switches:"),
                     _status_field(data, b"\nnonvoluntary_ctxt_switches:"),
                     _status_field(data, b"\nUid:"))


def read_pid_name(proc: str, pid: int) -> tuple[str, list[str]]:
    """(executable name, command line) as psutil's name() finds them: the kernel's comm,
    completed from the command line where the kernel cut it at 15 characters."""
    name = read_bytes(f"{proc}/{pid}/comm").rstrip(b"\n").decode("utf-8", "replace")
    try:
        cmdline = [a.decode("utf-8", "replace")
                   for a in read_bytes(f"{proc}/{pid}/cmdline").split(b"\0") if a]
    except PermissionError:
        cmdline = []
    if len(name) >= 15 and cmdline:
        full = os.path.basename(cmdline[0])
        if full.startswith(name):
            name = full
    return name, cmdline or [""]


def read_pid_io(proc: str, pid: int) -> tuple[int, int]:
    """(read_bytes, write_bytes) that reached storage, from /proc/<pid>/io."""
    io = read_keyed(f"{proc}/{pid}/io", keys=("read_bytes", "write_bytes"))
    return io["read_bytes"], io["write_bytes"]


def count_pid_fds(proc: str, pid: int) -> int:
    return len(os.listdir(f"{proc}/{pid}/fd"))


_OCTAL = re.compile(rb"\\([0-3][0-7]{2})")


def _unescape(field: bytes) -> str:
    """/proc/*/mounts escapes space, tab, newline and backslash as octal (`\\040`); the
    name's other bytes are as the kernel has them (UTF-8 for nearly every system). Escapes are
    undone on the bytes, then the bytes decoded, so `/mnt/données\\040x` stays itself."""
    if b"\\" in field:
        field = _OCTAL.sub(lambda m: bytes((int(m.group(1), 8),)), field)
    return field.decode("utf-8", "replace")


def read_mounts(path: str) -> list[Mount]:
    mounts: dict[str, Mount] = {}
    for raw in read_bytes(path).split(b"\n"):
        parts = raw.split()
        if len(parts) < 4:
            continue
        mp = _unescape(parts[1])
        # A later mount over the same point hides the earlier one.
        mounts[mp] = Mount(_unescape(parts[0]), mp, _unescape(parts[2]),
                           tuple(parts[3].decode("utf-8", "replace").split(",")))
    return list(mounts.values())


def read_diskstats(proc: str) -> dict[str, DiskStats]:
    """Per-device counters from /proc/diskstats (sectors are always 512 bytes there)."""
    out: dict[str, DiskStats] = {}
    path = f"{proc}/diskstats"
    lines = read_bytes(path).decode("utf-8", "replace").splitlines()
    try:
        for line in lines:
            v = line.split()
            if len(v) < 14:
                continue
            n = [int(x) for x in v[3:14]]
            out[v[2]] = DiskStats(n[0], n[1], n[2] * 512, n[3], n[4], n[5], n[6] * 512, n[7],
                                  n[9])
    except ValueError as exc:
        raise malformed(path, exc) from None
    return out
