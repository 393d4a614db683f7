"""The agent: config -> sources -> instruments -> reader -> exporter; start and stop.

The pipeline owns the collection cycle: every collection the SDK's reader makes (periodic, the
first one at start-up, the last one at shutdown, `once`) opens a new cycle, so each source reads
afresh and reads at most once within it. It also measures the sources from above (time and
errors per source, into Telemetry) for whatever reports them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Instrument, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
)

from agent import DISTRO_NAME, __version__
from agent.cardinality import Cap, Forget, sdk_limits
from agent.catalog import select
from agent.config.plain import Config
from agent.export.exporter import QueuedExporter, build_exporter
from agent.host.resource import build_resource
from agent.sources import SOURCES
from agent.sources.base import Context, Kind, Metric, Obs, Observer, Source
from agent.telemetry import NAME as TELEMETRY
from agent.telemetry import Reporter, Telemetry, describe

log = logging.getLogger("agent")


@dataclass
class Bound:
    metric: Metric
    observer: Observer


class CycleReader(PeriodicExportingMetricReader):
    """The SDK's periodic reader, with each collection a collection cycle: `opened` before
    the instruments are observed, `done` after, with what the collection exported."""

    def __init__(self, exporter: MetricExporter, interval: float, timeout: float,
                 opened: Callable[[], object], done: Callable[[MetricsData | None], object],
                 max_series: int) -> None:
        super().__init__(exporter, export_interval_millis=interval * 1000,
                         export_timeout_millis=timeout * 1000, **sdk_limits(max_series))
        self._opened, self._done = opened, done
        self._cycle = threading.Lock()  # the start-up collection and the periodic ones
        self._exported: MetricsData | None = None

    def collect(self, timeout_millis: float = 10_000) -> None:
        with self._cycle:
            self._opened()
            self._exported = None
            try:
                super().collect(timeout_millis=timeout_millis)
            finally:
                exported, self._exported = self._exported, None
                self._done(exported)

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
                         **kwargs: object) -> None:
        self._exported = metrics_data
        super()._receive_metrics(metrics_data, timeout_millis=timeout_millis, **kwargs)


class Agent:
    """Owns the sources and, once started, the MeterProvider that exports their metrics."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.telemetry = Telemetry()
        self.context = Context.build(config)
        self.sources: dict[str, Source] = {
            name: cls(self.context) for name, cls in SOURCES.items() if name in config.sources}
        observers = {name: src.observers() for name, src in self.sources.items()}
        observers[TELEMETRY] = Reporter(self.telemetry, config.sources).observers()
        self.bound = [Bound(m, observers[m.source][m.name]) for m in select(config)]
        self.cap = Cap(config.max_series)
        self.failed: set[str] = set()  # metrics whose observer failed in this cycle
        self.forget: Forget | None = None
        self.provider: MeterProvider | None = None
        self.exporter: QueuedExporter | None = None
        self.reader: CycleReader | None = None
        self.started = time.monotonic()
        self.last_collect: float | None = None  # when a callback last ran (liveness)
        self.stopping = False

    def observe(self, bound: Bound) -> list[Obs]:
        """One metric's observations for this cycle; a failing source yields none."""
        source = bound.metric.source
        started = time.perf_counter()
        try:
            out = list(bound.observer())
        except Exception as exc:
            self.failed.add(bound.metric.name)
            self.telemetry.failed(source, bound.metric.name, exc)
            return []
        finally:
            self.telemetry.timed(source, time.perf_counter() - started)
        self.telemetry.ok(source, bound.metric.name)
        return self.cap(bound.metric, out)

    def _opened(self) -> None:
        self.context.cycle.open()
        self.failed.clear()

    def _done(self, exported: MetricsData | None = None) -> None:
        """The end of a cycle: timings reported, series that stopped forgotten."""
        self.telemetry.cycle_done()
        if self.forget is not None:
            self.forget(exported, self.failed)
        for source in self.sources.values():
            source.sweep()

    def collect(self) -> dict[str, list[Obs]]:
        """One collection cycle without exporting (for `once`)."""
        self._opened()
        try:
            return {b.metric.name: self.observe(b) for b in self.bound}
        finally:
            self._done()

    def figures(self) -> dict[str, object]:
        """The sources' parts of the health document, from the last cycle's reads."""
        out: dict[str, object] = {}
        for source in self.sources.values():
            for section, value in source.figures().items():
                known = out.get(section)
                if isinstance(known, dict) and isinstance(value, dict):
                    known.update(value)  # a section two sources share (disk: io and space)
                else:
                    out[section] = value
        return out

    def _callback(self, bound: Bound) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            self.last_collect = time.monotonic()
            return [Observation(v, a) for v, a in self.observe(bound)]
        return callback

    def start(self) -> None:
        s = self.config
        exporter = build_exporter(s)
        if isinstance(exporter, QueuedExporter):
            self.exporter = exporter
            self.telemetry.export = exporter
        self.reader = CycleReader(exporter, s.interval, s.export_timeout, opened=self._opened,
                                  done=self._done, max_series=s.max_series)
        # Exemplars tie measurements to traces; observations of the host have none, and
        # sampling for them costs every point of every cycle.
        self.provider = MeterProvider(resource=build_resource(s, self.context.host),
                                      metric_readers=[self.reader],
                                      exemplar_filter=AlwaysOffExemplarFilter())
        self.forget = Forget(self.provider, self.reader)
        meter = self.provider.get_meter(DISTRO_NAME, __version__)
        factory = {Kind.COUNTER: meter.create_observable_counter,
                   Kind.UPDOWN: meter.create_observable_up_down_counter,
                   Kind.GAUGE: meter.create_observable_gauge}
        self.instruments: list[Instrument] = [
            factory[b.metric.kind](b.metric.name, callbacks=[self._callback(b)],
                                   unit=b.metric.unit, description=b.metric.description)
            for b in self.bound]

    def collect_now(self) -> None:
        """One collection and export outside the reader's schedule (at start-up)."""
        if self.reader is not None:
            try:
                self.reader.collect()
            except Exception as exc:  # the regular cycles will try again
                log.warning("first collection failed: %s", describe(exc))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the reader; it runs one last collection and export before it returns."""
        self.stopping = True
        if self.provider is not None:
            self.provider.shutdown(timeout_millis=timeout * 1000)
            self.provider = None
