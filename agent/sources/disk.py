"""disk: bytes, operations, busy time, operation time and merges per block device."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agent import procfs
from agent.hostfs import psutil
from agent.snapshot import per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source

_PARTITION_SUFFIX = re.compile(r"^p?\d+$")


def looks_like_partition(dev: str, devices: Iterable[str]) -> bool:
    """sda1 of sda, nvme0n1p1 of nvme0n1, mmcblk0p1 of mmcblk0 (when sysfs cannot say)."""
    return any(dev != d and dev.startswith(d) and _PARTITION_SUFFIX.match(dev[len(d):])
               for d in devices)


class DiskSource(Source):
    name = "disk"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._dir = Attrs("system.device", "disk.io.direction")
        self._dev = Attrs("system.device")
        self._partitions: dict[str, bool] = {}

    @per_cycle
    def counters(self) -> dict[str, Any]:
        if LINUX:
            per: dict[str, Any] = procfs.read_diskstats(self.ctx.host.proc)
        else:
            per = psutil().disk_io_counters(perdisk=True, nowrap=True) or {}
        keep = self.ctx.disks
        return {dev: c for dev, c in per.items() if keep(dev)}

    def _rw(self, read: str, write: str, scale: float = 1) -> Callable[[], Iterator[Obs]]:
        def observe() -> Iterator[Obs]:
            for dev, c in self.counters().items():
                yield getattr(c, read) * scale, self._dir(dev, "read")
                yield getattr(c, write) * scale, self._dir(dev, "write")
        return observe

    def _io_time(self) -> Iterator[Obs]:
        for dev, c in self.counters().items():
            busy = getattr(c, "busy_time", None)
            if busy is not None:
                yield busy / 1000, self._dev(dev)

    def _merged(self) -> Iterator[Obs]:
        for dev, c in self.counters().items():
            if hasattr(c, "read_merged_count"):
                yield c.read_merged_count, self._dir(dev, "read")
                yield c.write_merged_count, self._dir(dev, "write")

    def observers(self) -> dict[str, Observer]:
        return {
            "system.disk.io": self._rw("read_bytes", "write_bytes"),
            "system.disk.operations": self._rw("read_count", "write_count"),
            "system.disk.io_time": self._io_time,
            "system.disk.operation_time": self._rw("read_time", "write_time", 1 / 1000),
            "system.disk.merged": self._merged,
            "adk_system_disk_read_bytes_total": lambda: [(self._whole("read_bytes"), NO_ATTRS)],
            "adk_system_disk_write_bytes_total": lambda: [(self._whole("write_bytes"), NO_ATTRS)],
        }

    def _whole(self, field: str) -> int:
        """Summed over whole disks only: a partition's bytes are already its disk's."""
        counters = self.counters()
        return sum(getattr(c, field) for dev, c in counters.items()
                   if not self.is_partition(dev, counters))

    def is_partition(self, dev: str, devices: dict[str, Any]) -> bool:
        verdict = self._partitions.get(dev)
        if verdict is None:
            block = f"{self.ctx.host.sys}/class/block"
            verdict = (os.path.exists(f"{block}/{dev}/partition") if os.path.isdir(block)
                       else looks_like_partition(dev, devices))
            self._partitions[dev] = verdict
        return verdict
