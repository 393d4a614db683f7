"""cgroup v2: what one cgroup's files say.

`read(path, files)` reads a cgroup once (the agent keeps a node's cgroups' files open from one
cycle to the next: agent/host/cgroupfiles.py, on the parsers here). A cgroup
that vanishes between the scan (agent/host/cgroup.py) and the read (ENOENT, ENODEV) costs only
its own data: the read returns None, or what it had read.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection
from dataclasses import dataclass, field

from agent.config.files import read_bytes
from agent.host import pressure as psi

CPU_STAT = "cpu.stat"
CPU_MAX = "cpu.max"
MEMORY_CURRENT = "memory.current"
MEMORY_STAT = "memory.stat"
MEMORY_EVENTS = "memory.events"
MEMORY_MAX = "memory.max"
IO_STAT = "io.stat"
CPU_PRESSURE = "cpu.pressure"
MEMORY_PRESSURE = "memory.pressure"
IO_PRESSURE = "io.pressure"
PRESSURE_FILES = {CPU_PRESSURE: "cpu", MEMORY_PRESSURE: "memory", IO_PRESSURE: "io"}
ALL_FILES = frozenset({CPU_STAT, CPU_MAX, MEMORY_CURRENT, MEMORY_STAT, MEMORY_EVENTS, MEMORY_MAX,
                       IO_STAT, *PRESSURE_FILES})

# The files each controller adds to a cgroup whose parent enables it (cpu.stat's usage lines
# are always there; its throttling lines come with the cpu controller).
CONTROLLER_FILES = {"cpu": (CPU_MAX,), "memory": (MEMORY_CURRENT, MEMORY_STAT, MEMORY_EVENTS,
                                                  MEMORY_MAX), "io": (IO_STAT,)}


# What the metrics take of memory.stat, memory.events and cpu.stat (CpuStat's order); the
# files' other lines are skipped, not converted.
MEMORY_STAT_KEYS = ("anon", "file", "active_file", "inactive_file", "pgfault", "pgmajfault")
MEMORY_EVENTS_KEYS = ("oom", "oom_kill")
CPU_STAT_KEYS = ("usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled",
                 "throttled_usec")
_MEMORY_STAT_NEEDLES, _MEMORY_EVENTS_NEEDLES, _CPU_STAT_NEEDLES = (
    tuple(f"\n{k} ".encode() for k in keys)
    for keys in (MEMORY_STAT_KEYS, MEMORY_EVENTS_KEYS, CPU_STAT_KEYS))

# Errors that mean the cgroup (or this one file of it) is not there: removed between the scan
# and the read (ENOENT when opening, ENODEV when reading a file of a removed cgroup), or a
# file the kernel does not offer here (PSI off, a controller not enabled).
GONE = frozenset({errno.ENOENT, errno.ENODEV, errno.ENOTDIR, errno.ESRCH, errno.EOPNOTSUPP,
                  errno.ENOTSUP})


@dataclass(frozen=True, slots=True)
class CpuStat:
    """cpu.stat. Without the cpu controller enabled on the cgroup (a hybrid host's v2 tree,
    a parent that does not delegate it) only the usage lines are there."""

    usage_us: int | None = None
    user_us: int | None = None
    system_us: int | None = None
    nr_periods: int | None = None
    nr_throttled: int | None = None
    throttled_us: int | None = None


@dataclass(frozen=True, slots=True)
class CpuMax:
    """cpu.max: `$QUOTA $PERIOD` in microseconds; the quota is `max` when there is none."""

    quota_us: int | None
    period_us: int

    @property
    def cpus(self) -> float | None:
        """The limit in CPUs (quota over period), None when unlimited."""
        if self.quota_us is None or not self.period_us:
            return None
        return self.quota_us / self.period_us


@dataclass(frozen=True, slots=True)
class IOStat:
    """One device's line of io.stat."""

    rbytes: int = 0
    wbytes: int = 0
    rios: int = 0
    wios: int = 0


@dataclass(slots=True)
class CgroupStats:
    """What was read of one cgroup; a field is None when its file was not asked for, not
    there, or gone."""

    cpu: CpuStat | None = None
    cpu_max: CpuMax | None = None
    memory_current: int | None = None
    memory_stat: dict[str, int] | None = None
    memory_events: dict[str, int] | None = None
    memory_max: int | None = None  # bytes; None also when the file says `max` (no limit)
    io: dict[str, IOStat] | None = None  # by "major:minor"
    pressure: dict[str, dict[str, psi.Stall]] = field(default_factory=dict)  # by resource

    @property
    def working_set(self) -> int | None:
        """Usage less inactive file pages, never below 0: what the kubelet and cAdvisor call
        the working set (the figure the kubelet's evictions and `kubectl top` use)."""
        if self.memory_current is None:
            return None
        inactive = (self.memory_stat or {}).get("inactive_file")
        if inactive is None:
            return None
        return max(self.memory_current - inactive, 0)

    @property
    def rss(self) -> int | None:
        """Anonymous memory (memory.stat `anon`), as cAdvisor's RSS on cgroup v2."""
        return None if self.memory_stat is None else self.memory_stat.get("anon")

    @property
    def faults(self) -> tuple[int, int] | None:
        """(minor, major) page faults; memory.stat `pgfault` counts both kinds."""
        stat = self.memory_stat
        if stat is None or "pgfault" not in stat:
            return None
        major = stat.get("pgmajfault", 0)
        return stat["pgfault"] - major, major


def parse_cpu_stat(data: bytes) -> CpuStat:
    return CpuStat(*_values(data, _CPU_STAT_NEEDLES))


def parse_memory_events(data: bytes) -> dict[str, int]:
    """Only MEMORY_EVENTS_KEYS of memory.events."""
    return _picked(MEMORY_EVENTS_KEYS, _values(data, _MEMORY_EVENTS_NEEDLES))


def parse_memory_stat(data: bytes) -> dict[str, int]:
    """Only MEMORY_STAT_KEYS of memory.stat."""
    return _picked(MEMORY_STAT_KEYS, _values(data, _MEMORY_STAT_NEEDLES))


def _picked(keys: tuple[str, ...], values: list[int | None]) -> dict[str, int]:
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def _values(data: bytes, needles: tuple[bytes, ...]) -> list[int | None]:
    """The values of the `key value` lines whose `\nkey ` needles are given, None for a key
    not there: a substring search for each (in C) instead of splitting or matching all of the
    file's lines (memory.stat has ~60, cpu.stat ~10; a few are wanted)."""
    data = b"\n" + data
    out: list[int | None] = []
    for needle in needles:
        start = data.find(needle)
        if start < 0:
            out.append(None)
            continue
        start += len(needle)
        end = data.find(b"\n", start)
        out.append(int(data[start:end] if end >= 0 else data[start:]))
    return out


def parse_limit(data: bytes) -> int | None:
    """A single u64 such as memory.max or memory.current; `max` (no limit) is None."""
    value = data.strip()
    return None if value == b"max" else int(value)


def parse_cpu_max(data: bytes) -> CpuMax:
    quota, _, period = data.strip().partition(b" ")
    return CpuMax(parse_limit(quota), int(period or b"100000"))


def parse_io_stat(data: bytes) -> dict[str, IOStat]:
    """`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0` lines by device number. Keys the
    kernel adds (discards, io.cost's) are ignored."""
    out: dict[str, IOStat] = {}
    for line in data.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) >= 5 and tokens[1][:7] == b"rbytes=" and tokens[4][:5] == b"wios=":
            # the order the kernel prints them in
            out[tokens[0].decode()] = IOStat(int(tokens[1][7:]), int(tokens[2][7:]),
                                             int(tokens[3][5:]), int(tokens[4][5:]))
            continue
        kv = dict(t.split(b"=", 1) for t in tokens[1:] if b"=" in t)
        out[tokens[0].decode()] = IOStat(int(kv.get(b"rbytes", 0)), int(kv.get(b"wbytes", 0)),
                                         int(kv.get(b"rios", 0)), int(kv.get(b"wios", 0)))
    return out


def read_all(fd: int) -> bytes:
    data = os.read(fd, 65536)
    if len(data) == 65536:  # io.stat of a host with very many devices
        chunks = [data]
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        data = b"".join(chunks)
    return data


def _read_at(dir_fd: int, name: str) -> bytes | None:
    """One file of an open cgroup directory; None if it (or the cgroup) is not there."""
    try:
        # non-blocking: a FIFO planted in a host root must not stall the cycle
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in GONE:
            return None
        raise
    try:
        return read_all(fd)
    except OSError as exc:
        if exc.errno in GONE:
            return None
        raise
    finally:
        os.close(fd)


def parse_into(stats: CgroupStats, name: str, data: bytes) -> None:
    if name == CPU_STAT:
        stats.cpu = parse_cpu_stat(data)
    elif name == MEMORY_CURRENT:
        stats.memory_current = parse_limit(data)
    elif name == MEMORY_STAT:
        stats.memory_stat = parse_memory_stat(data)
    elif name == MEMORY_EVENTS:
        stats.memory_events = parse_memory_events(data)
    elif name == MEMORY_MAX:
        stats.memory_max = parse_limit(data)
    elif name == CPU_MAX:
        stats.cpu_max = parse_cpu_max(data)
    elif name == IO_STAT:
        stats.io = parse_io_stat(data)
    else:
        stats.pressure[PRESSURE_FILES[name]] = psi.parse(data)


def check_names(files: Collection[str]) -> None:
    if not ALL_FILES.issuperset(files):
        raise ValueError(f"not cgroup files the agent reads: {sorted(set(files) - ALL_FILES)}")


def read(path: str, files: Collection[str] = ALL_FILES) -> CgroupStats | None:
    """Read `files` of the cgroup at `path`. None when the cgroup is gone or none of the files
    could be read; a file that is missing leaves its field None. Errors other than a vanished
    cgroup or file (EACCES, EIO) are raised: they are the source's to report."""
    check_names(files)
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in GONE:
            return None
        raise
    stats = CgroupStats()
    got = False
    try:
        for name in files:
            data = _read_at(dir_fd, name)
            if data is not None:
                got = True
                parse_into(stats, name, data)
    finally:
        os.close(dir_fd)
    return stats if got else None


# --- naming block devices -------------------------------------------------------------------


class DeviceNames:
    """io.stat names devices by number; this names them as /proc/diskstats does (sda, nvme0n1,
    dm-0), from sys/dev/block/<major:minor>/uevent, once per device."""

    def __init__(self, sys: str) -> None:
        self.sys = sys
        self._names: dict[str, str] = {}

    def __call__(self, dev: str) -> str:
        name = self._names.get(dev)
        if name is None:
            name = self._names[dev] = self._lookup(dev)
        return name

    def _lookup(self, dev: str) -> str:
        try:
            for line in read_bytes(f"{self.sys}/dev/block/{dev}/uevent").splitlines():
                if line.startswith(b"DEVNAME="):
                    return line[8:].decode("utf-8", "replace")
        except OSError:
            pass
        return dev  # unnamed: keep the number, which still tells devices apart
