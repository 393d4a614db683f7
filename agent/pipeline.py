"""The agent: config -> sources -> instruments -> reader -> exporter; start and stop.

The pipeline owns the collection cycle: every collection the SDK's reader makes (periodic, the
first one at start-up, the last one at shutdown, `once`) opens a new cycle, so each source reads
afresh and reads at most once within it. It also measures the sources from above (time and
errors per source, into Telemetry) for whatever reports them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Instrument, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

from agent import DISTRO_NAME, __version__
from agent.catalog import select
from agent.config.plain import Config
from agent.export.exporter import QueuedExporter, build_exporter
from agent.host.resource import build_resource
from agent.series import Forgetter
from agent.sources import SOURCES
from agent.sources.base import Context, Kind, Metric, Obs, Observer, Source
from agent.telemetry import NAME as TELEMETRY
from agent.telemetry import Reporter, Telemetry, describe

log = logging.getLogger("agent")


@dataclass
class Bound:
    metric: Metric
    observer: Observer
    instrument: Instrument | None = None  # once started


class CycleReader(PeriodicExportingMetricReader):
    """The SDK's periodic reader, with each collection a collection cycle: `opened` before
    the instruments are observed, `done` after."""

    def __init__(self, exporter: MetricExporter, interval: float, timeout: float,
                 opened: Callable[[], object], done: Callable[[], object]) -> None:
        super().__init__(exporter, export_interval_millis=interval * 1000,
                         export_timeout_millis=timeout * 1000)
        self._opened, self._done = opened, done

    def collect(self, timeout_millis: float = 10_000) -> None:
        self._opened()
        try:
            super().collect(timeout_millis=timeout_millis)
        finally:
            self._done()


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
        self.capped: set[str] = set()  # metrics already warned about the series cap
        self.provider: MeterProvider | None = None
        self.exporter: QueuedExporter | None = None
        self.reader: CycleReader | None = None
        self.forget: Forgetter | None = None  # drops the SDK's series a cycle did not observe
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
            self.telemetry.failed(source, bound.metric.name, exc)
            return []
        finally:
            self.telemetry.timed(source, time.perf_counter() - started)
        self.telemetry.ok(source, bound.metric.name)
        if len(out) > self.config.max_series:
            if bound.metric.name not in self.capped:
                self.capped.add(bound.metric.name)
                log.warning("%s has %d series, more than ADK_AGENT_MAX_SERIES=%d: the rest are "
                            "dropped (narrow it with the include/exclude filters)",
                            bound.metric.name, len(out), self.config.max_series)
            del out[self.config.max_series:]
        if self.forget is not None and bound.instrument is not None:
            self.forget(bound.instrument, out)
        return out

    def collect(self) -> dict[str, list[Obs]]:
        """One collection cycle without exporting (for `once`)."""
        self.context.cycle.open()
        try:
            return {b.metric.name: self.observe(b) for b in self.bound}
        finally:
            self.telemetry.cycle_done()

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
        self.reader = CycleReader(exporter, s.interval, s.export_timeout,
                                  opened=self.context.cycle.open,
                                  done=self.telemetry.cycle_done)
        # Exemplars tie measurements to traces; observations of the host have none, and
        # sampling for them costs every point of every cycle.
        self.provider = MeterProvider(resource=build_resource(s, self.context.host),
                                      metric_readers=[self.reader],
                                      exemplar_filter=AlwaysOffExemplarFilter())
        meter = self.provider.get_meter(DISTRO_NAME, __version__)
        factory = {Kind.COUNTER: meter.create_observable_counter,
                   Kind.UPDOWN: meter.create_observable_up_down_counter,
                   Kind.GAUGE: meter.create_observable_gauge}
        self.instruments: list[Instrument] = []
        for b in self.bound:
            b.instrument = factory[b.metric.kind](b.metric.name, callbacks=[self._callback(b)],
                                                  unit=b.metric.unit,
                                                  description=b.metric.description)
            self.instruments.append(b.instrument)
        self.forget = Forgetter(self.provider, self.reader)

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
