"""system: host uptime."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil

from agent.sources.base import LINUX, NO_ATTRS, Obs, Observer, Source


class SystemSource(Source):
    name = "system"

    def boot_time(self) -> float:
        if LINUX:
            btime = self.ctx.shared.stat().btime
            if btime is not None:
                return float(btime)
        return psutil.boot_time()

    def _uptime(self) -> Iterator[Obs]:
        yield max(time.time() - self.boot_time(), 0.0), NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {"system.uptime": self._uptime}
