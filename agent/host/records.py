"""What the host readers return, the same on every platform."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The semantic conventions' cpu.mode values, in /proc/stat's column order. The kernel's
# softirq time (deferred interrupt work; Windows calls it DPC) is folded into `interrupt`, since
# the conventions have no value for it. guest and guest_nice are already counted in user and
# nice, so they are left out (as the hostmetrics receiver does) to keep the sum right.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "interrupt", "steal")
Times = dict[str, float]  # cpu.mode -> seconds
SocketCounts = dict[tuple[str, str | None], int]  # (transport, TCP state or None) -> sockets
# One process as the walk of the process table sees it, to rank it: (pid, start, process.state
# or None, CPU seconds, resident bytes). `start` is when it started in the platform's own unit,
# only compared with itself to tell a reused pid apart. A plain tuple: the walk makes one for
# every process on the host every cycle.
Glance = tuple[int, float, str | None, float, int]


@dataclass(frozen=True, slots=True)
class Memory:
    total: int
    free: int
    buffers: int
    cached: int
    available: int
    shared: int | None = None
    slab_reclaimable: int | None = None
    slab_unreclaimable: int | None = None

    @property
    def used(self) -> int:
        """Total - available: the semantic conventions' `used` since v1.37 (MemTotal -
        MemAvailable on Linux), and what psutil and free(1) say. It overlaps the part of
        buffers and cached that cannot be reclaimed (shmem, tmpfs), so the four states add
        up to more than the total."""
        return max(self.total - self.available, 0)

    @property
    def percent(self) -> float:
        return self.used / self.total * 100 if self.total else 0.0

    def states(self) -> dict[str, int]:
        return {"used": self.used, "free": self.free, "buffers": self.buffers,
                "cached": self.cached}


@dataclass(frozen=True, slots=True)
class ProcessStat:
    """What one read of a process gives (on Linux, /proc/<pid>/stat)."""

    user: float  # seconds
    system: float
    rss: int  # bytes
    vms: int
    threads: int
    minflt: int | None
    majflt: int | None
    created: int  # when it started, ns since the epoch: with the pid, its identity
    switches: tuple[int, int] | None = None  # (voluntary, involuntary), where read with it


@dataclass(frozen=True, slots=True)
class NetDev:
    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DiskStats:
    read_count: int
    read_merged_count: int | None  # None where the platform does not count it
    read_bytes: int
    read_time: int  # ms
    write_count: int
    write_merged_count: int | None
    write_bytes: int
    write_time: int  # ms
    busy_time: int | None  # ms with I/O in flight


_PARTITION_SUFFIX = re.compile(r"^p?\d+$")


def looks_like_partition(dev: str, devices: Iterable[str]) -> bool:
    """sda1 of sda, nvme0n1p1 of nvme0n1, mmcblk0p1 of mmcblk0 (when sysfs cannot say)."""
    return any(dev != d and dev.startswith(d) and _PARTITION_SUFFIX.match(dev[len(d):])
               for d in devices)
