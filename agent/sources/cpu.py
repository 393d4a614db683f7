"""cpu: time per mode, utilization since the previous cycle, CPU counts, frequency."""

from __future__ import annotations

from collections.abc import Iterator

from agent import procfs
from agent.hostfs import psutil
from agent.procfs import CPU_MODES
from agent.snapshot import Memo, per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source

Times = dict[str, float]
# psutil's field names on other platforms, as cpu.mode values
_PSUTIL_MODES = {"user": "user", "nice": "nice", "system": "system", "idle": "idle",
                 "iowait": "iowait", "irq": "interrupt", "softirq": "softirq", "steal": "steal",
                 "interrupt": "interrupt", "dpc": "interrupt"}


def _from_psutil(t: object) -> Times:
    out: Times = {}
    for name, value in t._asdict().items():  # type: ignore[attr-defined]
        mode = _PSUTIL_MODES.get(name)
        if mode is not None:
            out[mode] = out.get(mode, 0.0) + value
    return out


MIN_WINDOW = 0.2  # CPU-seconds (20 ticks at USER_HZ 100) before shares are reported


def utilization(prev: Times, cur: Times) -> Times | None:
    """Share of the elapsed CPU time spent in each mode; None when no time has passed."""
    deltas = {m: max(cur.get(m, 0.0) - prev.get(m, 0.0), 0.0) for m in cur}
    total = sum(deltas.values())
    if total <= 0:
        return None
    return {m: d / total for m, d in deltas.items()}


class CpuSource(Source):
    name = "cpu"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._mode = Attrs("cpu.mode")
        self._mode_cpu = Attrs("cpu.mode", "cpu.logical_number")
        self._cpu = Attrs("cpu.logical_number")
        self._static = Memo(300.0)  # CPU counts change only on hot-plug
        self._high: list[Times] = []  # highest value seen per series: counters never go back
        try:
            self._prev: tuple[Times, list[Times]] | None = self._read()
        except Exception:  # the first cycle reports the failure
            self._prev = None

    def _read(self) -> tuple[Times, list[Times]]:
        if LINUX:
            st = self.ctx.shared.stat()
            return st.cpu, st.per_cpu
        total = _from_psutil(psutil().cpu_times())
        per = [_from_psutil(t) for t in psutil().cpu_times(percpu=True)] if self.ctx.per_cpu else []
        return total, per

    @per_cycle
    def times(self) -> tuple[Times, list[Times]]:
        total, per = self._read()
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
               if self.ctx.per_cpu else [])
        return utilization(prev[0], cur[0]), per

    def _by_mode(self, total: Times | None, per: list[Times | None]) -> Iterator[Obs]:
        if self.ctx.per_cpu:
            for n, times in enumerate(per):
                for mode, value in (times or {}).items():
                    yield value, self._mode_cpu(mode, n)
        elif total is not None:
            for mode in CPU_MODES:
                if mode in total:
                    yield total[mode], self._mode(mode)

    def logical_count(self) -> int:
        return self._static.get("logical", lambda: self.ctx.shared.stat().ncpu
                                if LINUX else psutil().cpu_count() or 0)

    def known_logical_count(self) -> int | None:
        """The count as last read, without reading (for the health document)."""
        return self._static.peek("logical")

    def physical_count(self) -> int | None:
        def read() -> int | None:
            cores = procfs.read_physical_cores(self.ctx.host.proc) if LINUX else None
            return cores or psutil().cpu_count(logical=False)
        return self._static.get("physical", read)

    @per_cycle
    def frequency(self) -> list[float]:
        return [f.current * 1e6 for f in psutil().cpu_freq(percpu=True)]

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

    def _percent(self, busy: bool) -> Iterator[Obs]:
        total, _ = self.utilization()
        if total is not None:
            idle = total.get("idle", 0.0) * 100
            yield (100 - idle if busy else idle), NO_ATTRS
