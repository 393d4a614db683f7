"""processes: host-wide process counts by state and processes created since boot."""

from __future__ import annotations

from collections.abc import Iterator

from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source


class ProcessesSource(Source):
    """From /proc/stat's summary lines: constant cost however many processes the host runs
    (the hostmetrics receiver's approach; walking /proc/<pid> would grow with the host)."""

    name = "processes"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("process.state")

    def _count(self) -> Iterator[Obs]:
        if not LINUX:
            return
        st = self.ctx.shared.stat()
        if st.procs_running is not None:
            yield st.procs_running, self._state("running")
        if st.procs_blocked is not None:
            yield st.procs_blocked, self._state("blocked")

    def _created(self) -> Iterator[Obs]:
        if LINUX and (n := self.ctx.shared.stat().processes) is not None:
            yield n, NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {"system.process.count": self._count, "system.process.created": self._created}
