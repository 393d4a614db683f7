"""disk: bytes, operations, busy time, operation time and merges per block device."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from agent.host.cycle import per_cycle
from agent.host.records import DiskStats
from agent.sources.base import (
    NO_ATTRS,
    Attrs,
    Context,
    Figures,
    Kind,
    Metric,
    NameFilter,
    Obs,
    Observer,
    Schema,
    Source,
)

C, G, A = Kind.COUNTER, Kind.GAUGE, Schema.ADK
DEV, DIR = "system.device", "disk.io.direction"


class DiskSource(Source):
    name = "disk"
    metrics = (
        Metric("system.disk.io", C, "By", "Bytes read and written", (DEV, DIR)),
        Metric("system.disk.operations", C, "{operation}", "Read and write operations",
               (DEV, DIR)),
        Metric("system.disk.io_time", C, "s", "Time the device had I/O in flight", (DEV,)),
        Metric("system.disk.operation_time", C, "s", "Time spent in read and write operations",
               (DEV, DIR)),
        Metric("system.disk.merged", C, "{operation}", "Adjacent operations merged", (DEV, DIR)),
        Metric("adk_system_disk_read_bytes_total", G, "By", "Bytes read, all whole disks",
               schema=A),
        Metric("adk_system_disk_write_bytes_total", G, "By", "Bytes written, all whole disks",
               schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._keep = NameFilter(tuple(ctx.config.disks_include), tuple(ctx.config.disks_exclude))
        self._dir = Attrs(DEV, DIR)
        self._dev = Attrs(DEV)

    @per_cycle
    def counters(self) -> dict[str, DiskStats]:
        return {dev: c for dev, c in self.read.disks().items() if self._keep(dev)}

    def _rw(self, read: str, write: str, scale: float = 1) -> Callable[[], Iterator[Obs]]:
        def observe() -> Iterator[Obs]:
            for dev, c in self.counters().items():
                yield getattr(c, read) * scale, self._dir(dev, "read")
                yield getattr(c, write) * scale, self._dir(dev, "write")
        return observe

    def _io_time(self) -> Iterator[Obs]:
        for dev, c in self.counters().items():
            if c.busy_time is not None:
                yield c.busy_time / 1000, self._dev(dev)

    def _merged(self) -> Iterator[Obs]:
        for dev, c in self.counters().items():
            if c.read_merged_count is not None and c.write_merged_count is not None:
                yield c.read_merged_count, self._dir(dev, "read")
                yield c.write_merged_count, self._dir(dev, "write")

    def _whole(self, counters: dict[str, DiskStats], field: str) -> int:
        """Summed over whole disks only: a partition's bytes are already its disk's."""
        return sum(getattr(c, field) for dev, c in counters.items()
                   if not self.read.is_partition(dev, counters))

    def observers(self) -> dict[str, Observer]:
        return {
            "system.disk.io": self._rw("read_bytes", "write_bytes"),
            "system.disk.operations": self._rw("read_count", "write_count"),
            "system.disk.io_time": self._io_time,
            "system.disk.operation_time": self._rw("read_time", "write_time", 1 / 1000),
            "system.disk.merged": self._merged,
            "adk_system_disk_read_bytes_total":
                lambda: [(self._whole(self.counters(), "read_bytes"), NO_ATTRS)],
            "adk_system_disk_write_bytes_total":
                lambda: [(self._whole(self.counters(), "write_bytes"), NO_ATTRS)],
        }

    def figures(self) -> Figures:
        counters = self.memo.peek("counters")
        if not counters:
            return {}
        return {"disk": {"read_bytes": self._whole(counters, "read_bytes"),
                         "write_bytes": self._whole(counters, "write_bytes")}}
