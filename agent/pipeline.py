"""The agent: config -> sources -> instruments -> reader -> exporter; start and stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Instrument, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from agent import DISTRO_NAME, __version__
from agent.catalog import CATALOG, Kind, Metric
from agent.config import Config
from agent.exporting import QueuedExporter, build_exporter
from agent.hostfs import HostFS, use_proc
from agent.resource import build_resource
from agent.schedule import PhasedReader, first_delay, phase
from agent.sources import REGISTRY, Context, Source
from agent.sources.base import NameFilter, Obs, Observer
from agent.sources.selftel import SelfSource

log = logging.getLogger("agent")


def describe(exc: BaseException) -> str:
    """One line for a read failure: what failed and on which file, no traceback."""
    if type(exc).__name__ == "AccessDenied":  # psutil's, without importing psutil for it
        return "permission denied"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def select(config: Config) -> list[Metric]:
    """The catalog rows to export: on by default or asked for, from sources that run."""
    on = set(config.metrics_enabled)
    off = set(config.metrics_disabled)
    schemas = {"semconv", "adk"} if config.metric_schema == "both" else {config.metric_schema}
    return [m for m in CATALOG
            if m.schema in schemas and m.source in config.sources and m.name not in off
            and (m.enabled or m.name in on)]


def build_context(config: Config) -> Context:
    return Context(
        host=HostFS(config.root_path),
        interval=config.interval,
        per_cpu=config.per_cpu,
        disks=NameFilter(tuple(config.disks_include), tuple(config.disks_exclude)),
        interfaces=NameFilter(tuple(config.interfaces_include),
                              tuple(config.interfaces_exclude)),
        mountpoints=NameFilter(tuple(config.mountpoints_include),
                               tuple(config.mountpoints_exclude)),
        fs_types=NameFilter(tuple(config.fs_types_include), tuple(config.fs_types_exclude)),
        processes=tuple(config.processes),
        source_intervals=dict(config.source_intervals),
        source_timeout=config.source_timeout,
        service_version=config.service_version,
        git_commit=config.git_commit,
    )


class SourceFaults:
    """One warning when a source starts failing, one line when it recovers: never per cycle."""

    def __init__(self) -> None:
        self.failing: dict[str, dict[str, str]] = {}  # source -> metric -> error
        self.errors: dict[str, int] = {}
        self._lock = threading.Lock()

    def failed(self, metric: Metric, exc: BaseException) -> None:
        text = describe(exc)
        with self._lock:
            self.errors[metric.source] = self.errors.get(metric.source, 0) + 1
            now = self.failing.setdefault(metric.source, {})
            first = not now
            now[metric.name] = text
        if first:
            log.warning("source %s failed: %s (its metrics are skipped until it recovers)",
                        metric.source, text)

    def ok(self, metric: Metric) -> None:
        with self._lock:
            now = self.failing.get(metric.source)
            if not now or metric.name not in now:
                return
            del now[metric.name]
            recovered = not now
        if recovered:
            log.info("source %s recovered", metric.source)


@dataclass
class Bound:
    metric: Metric
    observer: Observer
    seconds: float = 0.0  # how long its last observation took (self-telemetry)


class Agent:
    """Owns the sources and, once started, the MeterProvider that exports their metrics."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.context = build_context(config)
        # psutil's reads (process names, pattern targets) come from the same proc as ours.
        use_proc(self.context.host.proc)
        self.sources: dict[str, Source] = {
            name: REGISTRY[name](self.context) for name in config.sources}
        if isinstance(own := self.sources.get("agent"), SelfSource):
            own.agent = self
        self.faults = SourceFaults()
        self.capped: set[str] = set()  # metrics already warned about the series cap
        observers = {name: src.observers() for name, src in self.sources.items()}
        self.bound = [Bound(m, observers[m.source][m.name]) for m in select(config)]
        self.provider: MeterProvider | None = None
        self.exporter: QueuedExporter | None = None
        self.reader: PeriodicExportingMetricReader | None = None
        self.started = time.monotonic()
        self.last_collect: float | None = None  # when a callback last ran (liveness)
        self.stopping = False

    def observe(self, bound: Bound) -> list[Obs]:
        """One metric's observations for this cycle; a failing source yields none."""
        started = time.perf_counter()
        try:
            out = list(bound.observer())
        except Exception as exc:
            self.faults.failed(bound.metric, exc)
            return []
        finally:
            bound.seconds = time.perf_counter() - started
        self.faults.ok(bound.metric)
        if len(out) > self.config.max_series:
            if bound.metric.name not in self.capped:
                self.capped.add(bound.metric.name)
                log.warning("%s has %d series, more than ADK_AGENT_MAX_SERIES=%d: the rest are "
                            "dropped (narrow it with the include/exclude filters)",
                            bound.metric.name, len(out), self.config.max_series)
            del out[self.config.max_series:]
        return out

    def new_cycle(self) -> None:
        """Forget this cycle's reads so the next observation reads afresh."""
        self.context.shared.memo.entries.clear()
        for source in self.sources.values():
            source.memo.entries.clear()

    def collect(self) -> dict[str, list[Obs]]:
        """One collection without exporting (for `once`)."""
        return {b.metric.name: self.observe(b) for b in self.bound}

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
        resource = build_resource(s, self.context.host)
        # The first periodic cycle at this agent's own phase of the interval (a fleet restarted
        # at once does not push in lockstep), at least half an interval after the first export.
        identity = str(resource.attributes.get("service.instance.id", ""))
        self.reader = PhasedReader(
            exporter, export_interval_millis=s.interval * 1000,
            export_timeout_millis=s.export_timeout * 1000,
            first_delay=first_delay(phase(identity, s.interval), s.interval, time.time(),
                                    min_gap=s.interval / 2))
        # Exemplars tie measurements to traces; observations of the host have none, and
        # sampling for them costs every point of every cycle.
        self.provider = MeterProvider(resource=resource,
                                      metric_readers=[self.reader],
                                      exemplar_filter=AlwaysOffExemplarFilter())
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
