"""From a cycle's observations to the points that go out, series by series.

The agent's observations are already what the OTLP data model wants: totals since their count
began (sums) and levels (gauges), read once per cycle. So there is nothing to aggregate, but
four things to keep per series (one metric and one attribute set):

- when its count began (`start_time_unix_nano` of a sum): the host's boot time, the process's
  creation (from the point's `process.creation.time`) or the agent's start, as the row's
  `Start` says;
- with delta temporality, its previous value: a delta point covers one interval; the first
  point of a series whose count began before the agent is not sent (it would be the whole count
  since then over a few milliseconds);
- the cap (ADK_AGENT_MAX_SERIES): at most that many series, the last place taken by one series
  `otel.metric.overflow=true` into which the rest fold (as the metrics SDK specification has
  it: sums add up, gauges keep the last value); series already known keep their place; one
  warning per metric;
- forgetting: a series the cycle did not observe is dropped (an exited process, a removed
  container, an unmounted filesystem), so memory follows what the host has now, not what it
  ever had. A metric whose source failed this cycle keeps its series for when it recovers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from agent.sources.base import Attributes, Kind, Metric, Obs, Start

log = logging.getLogger("agent")
CREATION_TIME = "process.creation.time"  # where a process's point says when it began
OVERFLOW: Attributes = {"otel.metric.overflow": True}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ns(text: object) -> int | None:
    """ns since the epoch of an ISO 8601 time; None where it is not one."""
    try:
        t = datetime.fromisoformat(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


class Point(NamedTuple):
    value: float | int
    attrs: Attributes
    start: int = 0  # ns since the epoch when its count began (or its delta interval); gauges 0


@dataclass(frozen=True, slots=True)
class Clocks:
    """When counts began, per clock a catalog row may declare; None: not known."""

    boot: int | None  # ns
    agent: int  # ns


class _Series:
    __slots__ = ("attrs", "last", "last_time", "start")

    def __init__(self, attrs: Attributes, start: int) -> None:
        self.attrs = attrs  # kept: the key is its id, which cannot be reused while it lives
        self.start = start
        self.last: float | int | None = None  # delta: the previous value
        self.last_time = 0


class MetricSeries:
    """The series of one metric."""

    def __init__(self, metric: Metric, clocks: Clocks, delta: bool, cap: int) -> None:
        self.metric = metric
        self.gauge = metric.kind is Kind.GAUGE
        self.delta = delta and metric.kind is Kind.COUNTER
        self.cap = cap
        self.clocks = clocks
        boot = clocks.boot if clocks.boot is not None else clocks.agent
        self.fixed = {Start.BOOT: boot, Start.AGENT: clocks.agent}.get(metric.start or Start.BOOT)
        self._by_id: dict[int, _Series] = {}
        self._overflow: _Series | None = None
        self._warned = False

    def __len__(self) -> int:
        return len(self._by_id)

    def _began(self, attrs: Attributes) -> int:
        if self.fixed is not None:
            return self.fixed
        began = iso_ns(attrs.get(CREATION_TIME))  # Start.PROCESS
        return self.clocks.agent if began is None else began

    def points(self, observed: Sequence[Obs] | None, now: int) -> list[Point]:
        """This cycle's points; None when the metric's source failed (its series are kept)."""
        if observed is None:
            return []
        by_id = self._by_id
        kept: list[tuple[float | int, _Series]] = []
        new: list[Obs] = []
        rebound = False  # a series observed under another dict than last time
        # The series by attribute values, made only in a cycle where a dict is not known by
        # its id (a new series, or a source that does not intern its attributes): not kept,
        # it would cost a tuple per series for the rare cycle that needs it.
        by_items: dict[tuple[object, ...], _Series] | None = None
        for value, attrs in observed:
            series = by_id.get(id(attrs))
            if series is None or series.attrs is not attrs:
                if by_items is None:
                    by_items = {tuple(s.attrs.items()): s for s in by_id.values()}
                series = by_items.get(tuple(attrs.items()))
                if series is None:
                    new.append((value, attrs))
                    continue
                series.attrs = attrs
                rebound = True
            kept.append((value, series))
        if new or rebound or len(kept) != len(by_id):  # series came, went or changed dicts
            # All fit, or the overflow series takes the last place (the SDK specification's
            # cardinality limit counts it): series already known keep theirs.
            fits = len(kept) + len(new) <= self.cap
            room = len(new) if fits else max(self.cap - 1 - len(kept), 0)
            kept += [(value, _Series(attrs, self._began(attrs))) for value, attrs in new[:room]]
            self._by_id = {id(series.attrs): series for _, series in kept}  # the rest: forgotten
            folded = new[room:]
        else:
            folded = []
        if self.gauge:
            out = [Point(value, series.attrs) for value, series in kept]
        elif not self.delta:
            out = [Point(value, series.attrs, series.start) for value, series in kept]
        else:
            out = [point for value, series in kept if (point := self._point(series, value, now))]
        if folded:
            point = self._fold(folded, now, len(observed))
            if point is not None:
                out.append(point)
        else:
            self._overflow = None
        return out

    def _point(self, series: _Series, value: float | int, now: int) -> Point | None:
        if self.gauge:
            return Point(value, series.attrs)
        if not self.delta:
            return Point(value, series.attrs, series.start)
        last, series.last = series.last, value
        since, series.last_time = series.last_time, now
        if last is None:  # its first observation
            if series.start < self.clocks.agent:
                return None  # counted since before the agent: its first delta is unknown
            return Point(value, series.attrs, series.start)
        if value < last:  # the count was reset (a wrapped or restarted counter)
            return Point(value, series.attrs, since)
        return Point(value - last, series.attrs, since)

    def _fold(self, folded: list[Obs], now: int, total: int) -> Point | None:
        if not self._warned:
            self._warned = True
            log.warning("%s has %d series, more than ADK_AGENT_MAX_SERIES=%d: the rest are "
                        "folded into one series otel.metric.overflow=true (narrow it with the "
                        "include/exclude filters)", self.metric.name, total, self.cap)
        if self._overflow is None:
            self._overflow = _Series(OVERFLOW, self.clocks.agent)
        value = folded[-1][0] if self.gauge else sum(v for v, _ in folded)
        return self._point(self._overflow, value, now)


class SeriesTable:
    """Every exported metric's series."""

    def __init__(self, metrics: Sequence[Metric], clocks: Clocks, delta: bool,
                 cap: int) -> None:
        self.clocks = clocks
        self.metrics = {m.name: MetricSeries(m, clocks, delta, cap) for m in metrics}

    def points(self, observed: Mapping[str, Sequence[Obs] | None], now: int
               ) -> list[tuple[Metric, list[Point]]]:
        return [(s.metric, s.points(observed.get(name), now))
                for name, s in self.metrics.items()]

    def __len__(self) -> int:
        return sum(len(s) for s in self.metrics.values())
