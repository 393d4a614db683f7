"""processes: host-wide process counts by state and processes created since boot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from agent.config.targets import parse_target, top_counts
from agent.sources.base import NO_ATTRS, Attrs, Context, Kind, Metric, Obs, Observer, Source

STATES = ("running", "sleeping", "stopped", "defunct")  # the conventions' process.state values


class ProcessesSource(Source):
    """From the kernel's summary counts (/proc/stat on Linux): constant cost however many
    processes the host runs (the hostmetrics receiver's approach). Where a top: process target
    walks the process table anyway, the counts are that walk's, by the conventions' states."""

    name = "processes"
    metrics = (
        Metric("system.process.count", Kind.UPDOWN, "{process}", "Processes in each state",
               ("process.state",)),
        Metric("system.process.created", Kind.COUNTER, "{process}",
               "Processes created since boot"),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("process.state")
        targets = (parse_target(t) for t in ctx.config.processes)
        self._walked = "process" in ctx.config.sources and bool(top_counts(targets))

    def _count(self) -> Iterator[Obs]:
        if self._walked:  # the walk the process source ranks (one per cycle, shared)
            counts = Counter(g[2] for g in self.read.process_walk())
            for state in STATES:
                yield counts[state], self._state(state)
            return
        for state, n in self.read.process_counts().items():
            yield n, self._state(state)

    def _created(self) -> Iterator[Obs]:
        if (n := self.read.processes_created()) is not None:
            yield n, NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {"system.process.count": self._count, "system.process.created": self._created}
