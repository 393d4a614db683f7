"""memory: usage and utilization by state (used is total - available), limit, available."""

from __future__ import annotations

from collections.abc import Iterator

from agent.host.cycle import per_cycle
from agent.host.records import Memory
from agent.sources.base import (
    NO_ATTRS,
    Attrs,
    Context,
    Figures,
    Kind,
    Metric,
    Obs,
    Observer,
    Schema,
    Source,
)

U, G, A = Kind.UPDOWN, Kind.GAUGE, Schema.ADK
STATE = ("system.memory.state",)


class MemorySource(Source):
    name = "memory"
    metrics = (
        Metric("system.memory.usage", U, "By",
               "Memory in each state; used is total - available", STATE),
        Metric("system.memory.utilization", G, "1", "Share of memory in each state", STATE),
        Metric("system.memory.limit", U, "By", "Total memory"),
        Metric("system.memory.linux.available", U, "By",
               "Memory available for new work without swapping (MemAvailable)"),
        Metric("system.memory.linux.shared", U, "By", "Shared memory (Shmem)", enabled=False),
        Metric("system.memory.linux.slab.usage", U, "By", "Slab memory by state",
               ("system.memory.linux.slab.state",), enabled=False),
        Metric("adk_system_memory_total_bytes", G, "By", "Total system memory", schema=A),
        Metric("adk_system_memory_used_bytes", G, "By",
               "Used system memory (total - available, as psutil reports it)", schema=A),
        Metric("adk_system_memory_free_bytes", G, "By", "Free system memory (MemFree)",
               schema=A),
        Metric("adk_system_memory_available_bytes", G, "By",
               "Available system memory (MemAvailable)", schema=A),
        Metric("adk_system_memory_usage_percent", G, "%",
               "Used memory as a percentage of the total", schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("system.memory.state")
        self._slab = Attrs("system.memory.linux.slab.state")

    @per_cycle
    def memory(self) -> Memory:
        return self.read.memory()

    def _usage(self) -> Iterator[Obs]:
        for state, value in self.memory().states().items():
            yield value, self._state(state)

    def _utilization(self) -> Iterator[Obs]:
        mem = self.memory()
        if mem.total:
            for state, value in mem.states().items():
                yield value / mem.total, self._state(state)

    def _slab_usage(self) -> Iterator[Obs]:
        mem = self.memory()
        if mem.slab_reclaimable is not None:
            yield mem.slab_reclaimable, self._slab("reclaimable")
        if mem.slab_unreclaimable is not None:
            yield mem.slab_unreclaimable, self._slab("unreclaimable")

    def _one(self, field: str) -> Observer:
        def observe() -> list[Obs]:
            value = getattr(self.memory(), field)
            return [] if value is None else [(value, NO_ATTRS)]
        return observe

    def observers(self) -> dict[str, Observer]:
        return {
            "system.memory.usage": self._usage,
            "system.memory.utilization": self._utilization,
            "system.memory.limit": self._one("total"),
            "system.memory.linux.available": self._one("available"),
            "system.memory.linux.shared": self._one("shared"),
            "system.memory.linux.slab.usage": self._slab_usage,
            "adk_system_memory_total_bytes": self._one("total"),
            "adk_system_memory_used_bytes": self._one("used"),
            "adk_system_memory_free_bytes": self._one("free"),
            "adk_system_memory_available_bytes": self._one("available"),
            "adk_system_memory_usage_percent": self._one("percent"),
        }

    def figures(self) -> Figures:
        mem: Memory | None = self.memo.peek("memory")
        return {"memory": None if mem is None else {
            "total_bytes": mem.total, "used_bytes": mem.used, "free_bytes": mem.free,
            "available_bytes": mem.available, "usage_percent": round(mem.percent, 2)}}
