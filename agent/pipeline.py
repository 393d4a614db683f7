"""The agent: config -> sources -> instruments -> reader -> exporter; start and stop.

The pipeline owns the collection cycle and its schedule: every collection the SDK's reader
makes (periodic, the first one at start-up, the last one at shutdown, `once`) opens a new
cycle, so each source reads afresh and reads at most once within it. It also measures the
sources from above (time and errors per source, into Telemetry) for whatever reports them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Instrument, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider, MetricsTimeoutError
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

from agent import DISTRO_NAME, __version__
from agent.catalog import select
from agent.config.plain import Config
from agent.export.encoding import Starts
from agent.export.exporter import QueuedExporter, build_exporter
from agent.host.resource import build_resource
from agent.series import Forgetter
from agent.sources import SOURCES
from agent.sources.base import Context, Kind, Metric, Obs, Observer, Source, Start
from agent.telemetry import NAME as TELEMETRY
from agent.telemetry import Reporter, Telemetry, describe

log = logging.getLogger("agent")
CREATION_TIME = "process.creation.time"  # where a process's point says when it began


@dataclass
class Bound:
    metric: Metric
    observer: Observer
    instrument: Instrument | None = None  # once started


def phase(identity: str, interval: float) -> float:
    """Seconds into the interval (0 <= phase < interval), uniform over identities."""
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


def first_delay(phase: float, interval: float, now: float, min_gap: float) -> float:
    """Seconds from `now` (Unix time) to the next moment `phase` seconds into an interval
    counted from the epoch, at least `min_gap` away (whole intervals later if need be)."""
    delay = (phase - now) % interval
    while delay < min_gap:
        delay += interval
    return delay


def next_due(due: float, interval: float, now: float) -> float:
    """The slot after `due` on the fixed schedule; slots that have already passed by `now` (a
    cycle that overran) are skipped, not run back to back."""
    due += interval
    if now >= due:
        due += (math.floor((now - due) / interval) + 1) * interval
    return due


class CycleReader(PeriodicExportingMetricReader):
    """The SDK's periodic reader, with each collection a collection cycle (`opened` before the
    instruments are observed, `done` after), on a schedule of its own.

    A fleet restarted at once (a cluster upgrade, a power event) would otherwise push in
    lockstep. As Prometheus offsets each target's scrapes by a hash of the target, the first
    periodic collection comes `first_delay` seconds from now (at the agent's own phase of the
    interval), and after it the period is fixed: each cycle is due one interval after the
    previous one was due (the SDK's reader sleeps a whole interval after each collection, so
    its cycles drift later by the collection's duration)."""

    def __init__(self, exporter: MetricExporter, interval: float, timeout: float,
                 first_delay: float, opened: Callable[[], object],
                 done: Callable[[], object]) -> None:
        self._opened, self._done = opened, done
        # Set before the base class starts the collection thread, which reads it.
        self._due = time.monotonic() + first_delay
        super().__init__(exporter, export_interval_millis=interval * 1000,
                         export_timeout_millis=timeout * 1000)

    def collect(self, timeout_millis: float = 10_000) -> None:
        self._opened()
        try:
            super().collect(timeout_millis=timeout_millis)
        finally:
            self._done()

    def _ticker(self) -> None:
        interval = self._export_interval_millis / 1e3
        while not self._shutdown_event.wait(max(0.0, self._due - time.monotonic())):
            try:
                self.collect(timeout_millis=self._export_timeout_millis)
            except MetricsTimeoutError:
                log.warning("metric collection timed out; trying again at the next cycle")
            self._due = next_due(self._due, interval, time.monotonic())
        # one last collection and export before shutting down, as the SDK's reader does
        try:
            self.collect(timeout_millis=self._export_interval_millis)
        except MetricsTimeoutError:
            log.warning("final metric collection timed out")


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
        self.started_ns = time.time_ns()  # the start of the agent's own counts
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

    def starts(self) -> Starts:
        """When the count of each Sum began, from the clock its catalog row declares: the
        host's boot time (read once, now), each point's process.creation.time, the agent's
        start."""
        clocks: dict[Start, int] = {Start.AGENT: self.started_ns}
        try:
            clocks[Start.BOOT] = round(self.context.read.boot_time() * 1e9)
        except Exception as exc:  # then the SDK's: the agent's first collection
            log.warning("boot time unknown (%s): host counters start at the first collection",
                        describe(exc))
        sums = [b.metric for b in self.bound if b.metric.kind is not Kind.GAUGE]
        return Starts(
            fixed={m.name: clocks[m.start] for m in sums if m.start in clocks},
            attribute={m.name: CREATION_TIME for m in sums if m.start is Start.PROCESS},
            since=self.started_ns)

    def _callback(self, bound: Bound) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            self.last_collect = time.monotonic()
            return [Observation(v, a) for v, a in self.observe(bound)]
        return callback

    def start(self) -> None:
        s = self.config
        exporter = build_exporter(s, self.starts())
        if isinstance(exporter, QueuedExporter):
            self.exporter = exporter
            self.telemetry.export = exporter
        resource = build_resource(s, self.context.host)
        # The first periodic cycle at this agent's own phase of the interval, at least half an
        # interval after the first export (which runner.py makes at once).
        identity = str(resource.attributes.get("service.instance.id", ""))
        delay = first_delay(phase(identity, s.interval), s.interval, time.time(),
                            min_gap=s.interval / 2)
        self.reader = CycleReader(exporter, s.interval, s.export_timeout, delay,
                                  opened=self.context.cycle.open,
                                  done=self.telemetry.cycle_done)
        # Exemplars tie measurements to traces; observations of the host have none, and
        # sampling for them costs every point of every cycle.
        self.provider = MeterProvider(resource=resource,
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
