"""memory: usage and utilization by state (the states sum to the total), limit, available."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from agent.hostfs import psutil
from agent.snapshot import per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source


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
        """What is neither free nor reclaimable cache, so that used + free + buffers + cached
        is exactly the total (the hostmetrics receiver's definition, not psutil's
        total - available)."""
        return max(self.total - self.free - self.buffers - self.cached, 0)

    @property
    def psutil_used(self) -> int:
        """The legacy catalog's "used": total - available, as psutil and free(1) say."""
        return self.total - self.available

    @property
    def percent(self) -> float:
        return self.psutil_used / self.total * 100 if self.total else 0.0

    def states(self) -> dict[str, int]:
        return {"used": self.used, "free": self.free, "buffers": self.buffers,
                "cached": self.cached}


def from_meminfo(m: dict[str, int]) -> Memory:
    total, free = m["MemTotal"], m["MemFree"]
    buffers = m.get("Buffers", 0)
    cached = m.get("Cached", 0) + m.get("SReclaimable", 0)  # as free(1) and psutil count it
    available = m.get("MemAvailable", free + buffers + cached)
    return Memory(total, free, buffers, cached, min(available, total), m.get("Shmem"),
                  m.get("SReclaimable"), m.get("SUnreclaim"))


def from_psutil() -> Memory:
    vm = psutil().virtual_memory()
    buffers, cached = getattr(vm, "buffers", 0), getattr(vm, "cached", 0)
    # Without buffers/cached (macOS, Windows) used + free must still make the total.
    free = vm.free if hasattr(vm, "buffers") else vm.total - vm.used
    return Memory(vm.total, free, buffers, cached, vm.available, getattr(vm, "shared", None))


class MemorySource(Source):
    name = "memory"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("system.memory.state")
        self._slab = Attrs("system.memory.linux.slab.state")

    @per_cycle
    def read(self) -> Memory:
        return from_meminfo(self.ctx.shared.meminfo()) if LINUX else from_psutil()

    def _usage(self) -> Iterator[Obs]:
        for state, value in self.read().states().items():
            yield value, self._state(state)

    def _utilization(self) -> Iterator[Obs]:
        mem = self.read()
        if mem.total:
            for state, value in mem.states().items():
                yield value / mem.total, self._state(state)

    def _slab_usage(self) -> Iterator[Obs]:
        mem = self.read()
        if mem.slab_reclaimable is not None:
            yield mem.slab_reclaimable, self._slab("reclaimable")
        if mem.slab_unreclaimable is not None:
            yield mem.slab_unreclaimable, self._slab("unreclaimable")

    def observers(self) -> dict[str, Observer]:
        return {
            "system.memory.usage": self._usage,
            "system.memory.utilization": self._utilization,
            "system.memory.limit": lambda: [(self.read().total, NO_ATTRS)],
            "system.memory.linux.available": lambda: [(self.read().available, NO_ATTRS)],
            "system.memory.linux.shared": lambda: ([(self.read().shared, NO_ATTRS)]
                                                   if self.read().shared is not None else []),
            "system.memory.linux.slab.usage": self._slab_usage,
            "adk_system_memory_total_bytes": lambda: [(self.read().total, NO_ATTRS)],
            "adk_system_memory_used_bytes": lambda: [(self.read().psutil_used, NO_ATTRS)],
            "adk_system_memory_free_bytes": lambda: [(self.read().free, NO_ATTRS)],
            "adk_system_memory_available_bytes": lambda: [(self.read().available, NO_ATTRS)],
            "adk_system_memory_usage_percent": lambda: [(self.read().percent, NO_ATTRS)],
        }
