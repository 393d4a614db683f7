"""disk: bytes, operations, busy time, operation time and merges per block device."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psutil

from agent.snapshot import per_cycle
from agent.sources.base import Attrs, Context, Obs, Observer, Source


class DiskSource(Source):
    name = "disk"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._dir = Attrs("system.device", "disk.io.direction")
        self._dev = Attrs("system.device")

    @per_cycle
    def counters(self) -> dict[str, Any]:
        # psutil reads <procfs>/diskstats; the pipeline points its PROCFS_PATH at the host's proc.
        per = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
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
        }
