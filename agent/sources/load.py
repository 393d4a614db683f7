"""load: the 1, 5 and 15 minute load averages (named as the hostmetrics receiver names them)."""

from __future__ import annotations

from agent.hostfs import psutil
from agent.snapshot import per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Obs, Observer, Source


class LoadSource(Source):
    name = "load"

    @per_cycle
    def averages(self) -> tuple[float, float, float]:
        if LINUX:
            with open(f"{self.ctx.host.proc}/loadavg", "rb") as f:
                a, b, c = f.read().split()[:3]
            return float(a), float(b), float(c)
        return psutil().getloadavg()

    def observers(self) -> dict[str, Observer]:
        out: dict[str, Observer] = {}
        for i, window in enumerate(("1m", "5m", "15m")):
            def observe(i: int = i) -> list[Obs]:
                return [(self.averages()[i], NO_ATTRS)]
            out[f"system.cpu.load_average.{window}"] = observe
            out[f"adk_system_load_average_{window}"] = observe
        return out
