"""Reads that several sources use, so /proc/stat and /proc/meminfo are parsed once per cycle."""

from __future__ import annotations

from agent import procfs
from agent.hostfs import HostFS
from agent.snapshot import Memo, per_cycle

# What the memory, paging and process sources use of these files.
MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SReclaimable",
                "SUnreclaim", "Shmem", "SwapTotal", "SwapFree")
VMSTAT_KEYS = ("pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")


class SharedReads:
    def __init__(self, host: HostFS, interval: float, per_cpu: bool = False) -> None:
        self.host = host
        self.per_cpu = per_cpu
        self.memo = Memo(interval / 2)

    @per_cycle
    def stat(self) -> procfs.ProcStat:
        return procfs.read_stat(self.host.proc, self.per_cpu)

    @per_cycle
    def meminfo(self) -> dict[str, int]:
        return procfs.read_keyed(f"{self.host.proc}/meminfo", 1024, MEMINFO_KEYS)

    @per_cycle
    def vmstat(self) -> dict[str, int]:
        return procfs.read_keyed(f"{self.host.proc}/vmstat", 1, VMSTAT_KEYS)
