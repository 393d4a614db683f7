"""load: the 1, 5 and 15 minute load averages (named as the hostmetrics receiver names them)."""

from __future__ import annotations

from agent.host.cycle import per_cycle
from agent.sources.base import NO_ATTRS, Figures, Kind, Metric, Obs, Observer, Schema, Source

WINDOWS = ("1m", "5m", "15m")


class LoadSource(Source):
    name = "load"
    metrics = (
        *(Metric(f"system.cpu.load_average.{w}", Kind.GAUGE, "{thread}",
                 f"{w[:-1]}-minute load average") for w in WINDOWS),
        *(Metric(f"adk_system_load_average_{w}", Kind.GAUGE, "{thread}",
                 f"{w[:-1]}-minute load average", schema=Schema.ADK) for w in WINDOWS),
    )

    @per_cycle
    def averages(self) -> tuple[float, float, float]:
        return self.read.load_averages()

    def observers(self) -> dict[str, Observer]:
        out: dict[str, Observer] = {}
        for i, window in enumerate(WINDOWS):
            def observe(i: int = i) -> list[Obs]:
                return [(self.averages()[i], NO_ATTRS)]
            out[f"system.cpu.load_average.{window}"] = observe
            out[f"adk_system_load_average_{window}"] = observe
        return out

    def figures(self) -> Figures:
        avg = self.memo.peek("averages")
        return {"load": None if avg is None else dict(zip(WINDOWS, avg, strict=True))}
