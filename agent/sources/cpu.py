"""cpu: time per mode, utilization since the previous cycle, CPU counts, frequency."""

from __future__ import annotations

from collections.abc import Iterator

from agent.host.cycle import Memo, per_cycle
from agent.host.records import CPU_MODES, Times
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
    every_cycles,
)

C, U, G, A = Kind.COUNTER, Kind.UPDOWN, Kind.GAUGE, Schema.ADK
MODE = ("cpu.mode", "cpu.logical_number")
MIN_WINDOW = 0.2  # CPU-seconds (20 ticks at USER_HZ 100) before shares are reported


def utilization(prev: Times, cur: Times) -> Times | None:
    """Share of the elapsed CPU time spent in each mode; None when no time has passed."""
    deltas = {m: max(cur.get(m, 0.0) - prev.get(m, 0.0), 0.0) for m in cur}
    total = sum(deltas.values())
    if total <= 0:
        return None
    return {m: d / total for m, d in deltas.items()}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class CpuSource(Source):
    name = "cpu"
    metrics = (
        Metric("system.cpu.time", C, "s", "Seconds each logical CPU spent in each mode", MODE),
        Metric("system.cpu.utilization", G, "1",
               "Share of CPU time in each mode since the previous cycle, 0..1", MODE),
        Metric("system.cpu.logical.count", U, "{cpu}", "Logical CPUs"),
        Metric("system.cpu.physical.count", U, "{cpu}", "Physical CPU cores"),
        Metric("system.cpu.frequency", G, "Hz", "Current CPU frequency", ("cpu.logical_number",),
               enabled=False),
        Metric("adk_system_cpu_usage_percent", G, "%",
               "System-wide CPU busy percentage since the previous cycle, 0..100 (iowait counts "
               "as idle, as psutil's cpu_percent)", schema=A),
        Metric("adk_system_cpu_usage_idle_percent", G, "%",
               "System-wide CPU idle percentage since the previous cycle, 0..100", schema=A),
        Metric("adk_system_cpu_count", G, "{cpu}", "Logical CPUs", schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._mode = Attrs("cpu.mode")
        self._mode_cpu = Attrs("cpu.mode", "cpu.logical_number")
        self._cpu = Attrs("cpu.logical_number")
        # CPU counts change only on hot-plug: read them every five minutes
        self._static = Memo(ctx.cycle, every_cycles(300.0, ctx.config.interval))
        self._high: list[Times] = []  # highest value seen per series: counters never go back
        try:
            self._prev: tuple[Times, list[Times]] | None = self.read.cpu_times()
        except Exception:  # the first cycle reports the failure
            self._prev = None

    @per_cycle
    def times(self) -> tuple[Times, list[Times]]:
        total, per = self.read.cpu_times()
        # /proc/stat's iowait is known to step backwards on some kernels; hold the high mark.
        series = [total, *per]
        if len(self._high) != len(series):
            self._high = [dict(s) for s in series]
        out = []
        for high, cur in zip(self._high, series, strict=True):
            for mode, value in cur.items():
                if value > high.get(mode, -1.0):
                    high[mode] = value
            out.append(dict(high))
        return out[0], out[1:]

    @per_cycle
    def utilization(self) -> tuple[Times | None, list[Times | None]]:
        cur = self.times()
        prev = self._prev
        if prev is None or sum(cur[0].values()) - sum(prev[0].values()) < MIN_WINDOW:
            # Too few clock ticks for shares to mean anything (a cycle right after start):
            # report none and measure the next cycle from the same start.
            if prev is None:
                self._prev = cur
            return None, []
        self._prev = cur
        per = ([utilization(p, c) for p, c in zip(prev[1], cur[1], strict=False)]
               if self.config.per_cpu else [])
        return utilization(prev[0], cur[0]), per

    def _by_mode(self, total: Times | None, per: list[Times | None]) -> Iterator[Obs]:
        if self.config.per_cpu:
            for n, times in enumerate(per):
                for mode, value in (times or {}).items():
                    yield value, self._mode_cpu(mode, n)
        elif total is not None:
            for mode in CPU_MODES:
                if mode in total:
                    yield total[mode], self._mode(mode)

    def logical_count(self) -> int:
        return self._static.get("logical", self.read.logical_cpus)

    def physical_count(self) -> int | None:
        return self._static.get("physical", self.read.physical_cores)

    @per_cycle
    def frequency(self) -> list[float]:
        return self.read.cpu_frequencies()

    def observers(self) -> dict[str, Observer]:
        def physical() -> Iterator[Obs]:
            n = self.physical_count()
            if n:
                yield n, NO_ATTRS

        return {
            "system.cpu.time": lambda: self._by_mode(*self.times()),
            "system.cpu.utilization": lambda: self._by_mode(*self.utilization()),
            "system.cpu.logical.count": lambda: [(self.logical_count(), NO_ATTRS)],
            "system.cpu.physical.count": physical,
            "system.cpu.frequency": lambda: [(hz, self._cpu(n))
                                             for n, hz in enumerate(self.frequency())],
            "adk_system_cpu_usage_percent": lambda: self._percent(busy=True),
            "adk_system_cpu_usage_idle_percent": lambda: self._percent(busy=False),
            "adk_system_cpu_count": lambda: [(self.logical_count(), NO_ATTRS)],
        }

    @staticmethod
    def _percents(util: tuple[Times | None, list[Times | None]] | None
                  ) -> tuple[float, float] | None:
        """(busy, idle) percent as psutil reports them: cpu_percent() counts iowait as idle
        time, cpu_times_percent().idle is the idle mode alone."""
        total = util[0] if util else None
        if total is None:
            return None
        idle = total.get("idle", 0.0) * 100
        return max(100 - idle - total.get("iowait", 0.0) * 100, 0.0), idle

    def _percent(self, busy: bool) -> Iterator[Obs]:
        percents = self._percents(self.utilization())
        if percents is not None:
            yield percents[0 if busy else 1], NO_ATTRS

    def figures(self) -> Figures:
        percents = self._percents(self.memo.peek("utilization"))
        busy, idle = percents if percents is not None else (None, None)
        return {"cpu": {"usage_percent": _r(busy), "idle_percent": _r(idle),
                        "count": self._static.peek("logical")}}
