"""pressure: the host's pressure stall information (PSI) from /proc/pressure/{cpu,memory,io}, as
stall seconds by stall type (named after semantic-conventions PR #3528, a proposal)."""

from __future__ import annotations

from collections.abc import Iterator

from agent.host import pressure
from agent.host.cycle import per_cycle
from agent.host.pressure import Stall
from agent.sources.base import Attrs, Context, Figures, Kind, Metric, Obs, Observer, Source

STALL = "system.linux.pressure.stall_type"
WAITED = {"cpu": "CPU", "memory": "memory (reclaim, refaults, swap-in)", "io": "I/O"}


class PressureSource(Source):
    name = "pressure"
    metrics = tuple(
        Metric(f"system.{r}.linux.pressure.total", Kind.COUNTER, "s",
               f"Time tasks waited for {what}: some (at least one task) or full (all at once)",
               (STALL,))
        for r, what in WAITED.items())

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._stall = Attrs(STALL)

    @per_cycle
    def stalls(self) -> dict[str, dict[str, Stall]]:
        """By resource, then stall type; {} where the kernel has no PSI (psi=0, not Linux)."""
        return pressure.read_host(self.ctx.host.proc)

    def observers(self) -> dict[str, Observer]:
        def observer(resource: str) -> Observer:
            def observe() -> Iterator[Obs]:
                for kind, stall in self.stalls().get(resource, {}).items():
                    yield stall.seconds, self._stall(kind)
            return observe
        return {f"system.{r}.linux.pressure.total": observer(r) for r in WAITED}

    def figures(self) -> Figures:
        stalls = self.memo.peek("stalls")
        return {"pressure": {r: {k: s.seconds for k, s in by.items()}
                             for r, by in stalls.items()} if stalls else None}
