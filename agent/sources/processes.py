"""processes: host-wide process counts by state and processes created since boot."""

from __future__ import annotations

from collections.abc import Iterator

from agent.sources.base import NO_ATTRS, Attrs, Context, Kind, Metric, Obs, Observer, Source


class ProcessesSource(Source):
    """From the kernel's summary counts (/proc/stat on Linux): constant cost however many
    processes the host runs (the hostmetrics receiver's approach)."""

    name = "processes"
    metrics = (
        Metric("system.process.count", Kind.UPDOWN, "{process}",
               "Processes running or blocked on I/O", ("process.state",)),
        Metric("system.process.created", Kind.COUNTER, "{process}",
               "Processes created since boot"),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("process.state")

    def _count(self) -> Iterator[Obs]:
        for state, n in self.read.process_counts().items():
            yield n, self._state(state)

    def _created(self) -> Iterator[Obs]:
        if (n := self.read.processes_created()) is not None:
            yield n, NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {"system.process.count": self._count, "system.process.created": self._created}
