"""system: host uptime."""

from __future__ import annotations

import time
from collections.abc import Iterator

from agent.hostfs import psutil
from agent.sources.base import LINUX, NO_ATTRS, Context, Obs, Observer, Source


class SystemSource(Source):
    name = "system"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._info = {"version": ctx.service_version or "", "git_commit": ctx.git_commit or ""}

    def boot_time(self) -> float:
        if LINUX:
            btime = self.ctx.shared.stat().btime
            if btime is not None:
                return float(btime)
        return psutil().boot_time()

    def _uptime(self) -> Iterator[Obs]:
        yield max(time.time() - self.boot_time(), 0.0), NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {
            "system.uptime": self._uptime,
            "adk_system_uptime_seconds": self._uptime,
            "adk_app_info": lambda: [(1, self._info)],
        }
