"""paging: swap usage and utilization, page faults and paging operations (/proc/vmstat)."""

from __future__ import annotations

from collections.abc import Iterator

from agent.hostfs import psutil
from agent.snapshot import per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source


class PagingSource(Source):
    name = "paging"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._state = Attrs("system.paging.state")
        self._fault = Attrs("system.paging.fault.type")
        self._op = Attrs("system.paging.direction", "system.paging.fault.type")

    @per_cycle
    def swap(self) -> tuple[int, int]:
        """(used, free) swap bytes."""
        if LINUX:
            m = self.ctx.shared.meminfo()
            total, free = m["SwapTotal"], m["SwapFree"]
            return total - free, free
        sw = psutil().swap_memory()
        return sw.used, sw.free

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
        if not LINUX:
            return
        vm = self.ctx.shared.vmstat()
        if "pgfault" in vm:
            major = vm.get("pgmajfault", 0)
            yield vm["pgfault"] - major, self._fault("minor")
            yield major, self._fault("major")

    def _operations(self) -> Iterator[Obs]:
        if not LINUX:
            return
        vm = self.ctx.shared.vmstat()
        # Swapping moves pages to and from swap (major); paging is all block I/O of pages (minor).
        for key, direction, kind in (("pswpin", "in", "major"), ("pswpout", "out", "major"),
                                     ("pgpgin", "in", "minor"), ("pgpgout", "out", "minor")):
            if key in vm:
                yield vm[key], self._op(direction, kind)

    def observers(self) -> dict[str, Observer]:
        return {
            "system.paging.usage": self._usage,
            "system.paging.utilization": self._utilization,
            "system.paging.faults": self._faults,
            "system.paging.operations": self._operations,
            "adk_system_swap_used_bytes": lambda: [(self.swap()[0], NO_ATTRS)],
            "adk_system_swap_usage_percent": self._adk_percent,
        }

    def _adk_percent(self) -> Iterator[Obs]:
        used, free = self.swap()
        yield (used / (used + free) * 100 if used + free else 0.0), NO_ATTRS
