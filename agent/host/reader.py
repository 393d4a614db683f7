"""What the sources ask of the host, as one set of functions with two implementations chosen
once at start-up: `linux.LinuxReader` (the agent's own /proc and /sys parsers, through the host
root) and `portable.PsutilReader` (psutil, for the other platforms).

This is psutil's own shape (one public API over `_pslinux`, `_psosx`...): the sources never ask
which platform they are on. A capability a platform lacks is an empty result or None, never a
made-up value.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Protocol

from agent.config.plain import Config
from agent.host.cycle import Cycle
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
)


class Reader(Protocol):
    # cpu
    def cpu_times(self) -> tuple[Times, list[Times]]:
        """Seconds per cpu.mode for the host, and per logical CPU when asked for."""
        ...

    def logical_cpus(self) -> int: ...
    def physical_cores(self) -> int | None: ...
    def cpu_frequencies(self) -> list[float]:
        """Current frequency of each logical CPU in Hz."""
        ...

    # memory and paging
    def memory(self) -> Memory: ...
    def swap(self) -> tuple[int, int]:
        """(used, free) bytes of swap."""
        ...

    def page_faults(self) -> tuple[int, int] | None:
        """(minor, major) page faults since boot."""
        ...

    def paging_operations(self) -> dict[tuple[str, str], int]:
        """Pages moved since boot by (direction, fault type): swapped (major), paged (minor)."""
        ...

    # storage
    def disks(self) -> dict[str, DiskStats]: ...
    def is_partition(self, device: str, devices: dict[str, DiskStats]) -> bool: ...
    def mounts(self) -> list[Mount]: ...

    # network
    def interfaces(self) -> dict[str, NetDev]: ...
    def sockets(self) -> SocketCounts: ...

    # system
    def load_averages(self) -> tuple[float, float, float]: ...
    def boot_time(self) -> float:
        """When the host booted, in seconds since the epoch: read once and kept, since the
        kernel derives btime from the wall clock on every read and it moves with clock
        adjustments. Counters since boot start here."""
        ...

    def uptime(self) -> float:
        """Seconds since the host booted, at the clock's full precision."""
        ...

    def process_counts(self) -> dict[str, int]:
        """Processes by process.state, where the platform counts them cheaply."""
        ...

    def processes_created(self) -> int | None: ...

    # processes
    def process_ids(self) -> Iterator[tuple[int, str, list[str]]]:
        """(pid, executable name, command line) of every process."""
        ...

    def process_walk(self) -> list[Glance]:
        """Every process as the least one read gives to rank it and count it by state; walked
        at most once per cycle, however many ask."""
        ...

    def process_stat(self, pid: int) -> ProcessStat:
        """Raises ProcessLookupError or FileNotFoundError for a process that is gone, and
        PermissionError for one that is not ours to read. Context switches come with it
        where the same read gives them (Linux)."""
        ...

    def process_name(self, pid: int) -> tuple[str, list[str]]:
        """(name as ps and psutil show it, command line)."""
        ...

    def process_exe(self, pid: int) -> str | None:
        """The path of the process's executable; None where it cannot be read."""
        ...

    def process_owner(self, pid: int) -> str | None:
        """The name of the user the process runs as (its real uid); None where unknown."""
        ...

    def process_parent(self, pid: int) -> int | None: ...

    def process_fds(self, pid: int) -> int: ...
    def process_io(self, pid: int) -> tuple[int, int]: ...
    def process_switches(self, pid: int) -> tuple[int, int]: ...
    def forget(self, pids: set[int]) -> None:
        """Drop what is kept for processes that are gone."""
        ...


def choose(host: HostFS, cycle: Cycle, config: Config) -> Reader:
    """The reader for this platform, decided once."""
    if sys.platform.startswith("linux"):
        from agent.host.linux import LinuxReader

        return LinuxReader(host, cycle, config)
    from agent.host.portable import PsutilReader

    return PsutilReader(host, cycle, config)
