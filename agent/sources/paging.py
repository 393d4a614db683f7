"""paging: swap usage and utilization, page faults and paging operations."""

from __future__ import annotations

from collections.abc import Iterator

from agent.host.cycle import per_cycle
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

C, U, G, A = Kind.COUNTER, Kind.UPDOWN, Kind.GAUGE, Schema.ADK
STATE = ("system.paging.state",)


class PagingSource(Source):
    name = "paging"
    metrics = (
        Metric("system.paging.usage", U, "By", "Swap space used and free", STATE),
        Metric("system.paging.utilization", G, "1", "Share of swap space used and free", STATE),
        Metric("system.paging.faults", C, "{fault}", "Page faults", ("system.paging.fault.type",)),
        Metric("system.paging.operations", C, "{operation}",
               "Pages paged (minor) or swapped (major) in and out",
               ("system.paging.direction", "system.paging.fault.type")),
        Metric("adk_system_swap_used_bytes", G, "By", "Used swap", schema=A),
        Metric("adk_system_swap_usage_percent", G, "%",
               "Used swap as a percentage of the total (0 without swap)", schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("system.paging.state")
        self._fault = Attrs("system.paging.fault.type")
        self._op = Attrs("system.paging.direction", "system.paging.fault.type")

    @per_cycle
    def swap(self) -> tuple[int, int]:
        """(used, free) swap bytes."""
        return self.read.swap()

    @per_cycle
    def faults(self) -> tuple[int, int] | None:
        return self.read.page_faults()

    @per_cycle
    def operations(self) -> dict[tuple[str, str], int]:
        return self.read.paging_operations()

    def _usage(self) -> Iterator[Obs]:
        used, free = self.swap()
        yield used, self._state("used")
        yield free, self._state("free")

    def _utilization(self) -> Iterator[Obs]:
        used, free = self.swap()
        if used + free:  # no swap configured: a ratio of nothing is not reported
            yield used / (used + free), self._state("used")
            yield free / (used + free), self._state("free")

    def _faults(self) -> Iterator[Obs]:
        faults = self.faults()
        if faults is not None:
            yield faults[0], self._fault("minor")
            yield faults[1], self._fault("major")

    def _operations(self) -> Iterator[Obs]:
        for (direction, kind), n in self.operations().items():
            yield n, self._op(direction, kind)

    @staticmethod
    def _percent(used: int, free: int) -> float:
        return used / (used + free) * 100 if used + free else 0.0

    def observers(self) -> dict[str, Observer]:
        return {
            "system.paging.usage": self._usage,
            "system.paging.utilization": self._utilization,
            "system.paging.faults": self._faults,
            "system.paging.operations": self._operations,
            "adk_system_swap_used_bytes": lambda: [(self.swap()[0], NO_ATTRS)],
            "adk_system_swap_usage_percent": lambda: [(self._percent(*self.swap()), NO_ATTRS)],
        }

    def figures(self) -> Figures:
        swap = self.memo.peek("swap")
        return {"swap": None if swap is None else {
            "used_bytes": swap[0], "free_bytes": swap[1],
            "usage_percent": round(self._percent(*swap), 2)}}
