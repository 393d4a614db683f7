"""The agent: config -> sources -> observations -> series -> OTLP request -> exporter.

The pipeline owns the collection cycle and its schedule: every collection (the first one at
start-up, the periodic ones, the last one at shutdown, `once`) opens a new cycle, so each source
reads afresh and reads at most once within it. It measures the sources from above (time and
errors per source, into Telemetry) for whatever reports them.

It does not use the OpenTelemetry SDK's metrics pipeline: what the sources observe is already
a total since its count began or a level, read once per cycle, so there is nothing to
aggregate; the SDK's pass over each point (attributes cleaned, hashed and aggregated, then
collected into MetricsData) cost four times the agent's own reads and encoding together, and
it keeps every attribute set ever seen. agent/export/series.py keeps what each series needs
(its start, its last value for delta, the cap) and forgets the ones that went.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent import DISTRO_NAME, __version__
from agent.catalog import select
from agent.config.plain import Config
from agent.export.encoding import Encoder
from agent.export.exporter import ConsoleExporter, QueuedExporter, build_exporter
from agent.export.series import Clocks, Point, SeriesTable
from agent.host.resource import build_resource
from agent.sources import SOURCES
from agent.sources.base import Context, Metric, Obs, Observer, Source
from agent.telemetry import NAME as TELEMETRY
from agent.telemetry import Reporter, Telemetry, describe

log = logging.getLogger("agent")


@dataclass
class Bound:
    metric: Metric
    observer: Observer


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


class Schedule:
    """The collection thread: cycles at the agent's own phase of the interval, on a fixed
    period, until stopped.

    A fleet restarted at once (a cluster upgrade, a power event) would otherwise push in
    lockstep. As Prometheus offsets each target's scrapes by a hash of the target, the first
    periodic cycle comes `first_delay` seconds from now (the agent's own phase of the
    interval) and after it each cycle is due one interval after the previous one was due, so
    the cycles do not drift later by the collection's duration."""

    def __init__(self, cycle: Callable[[], object], interval: float,
                 first_delay: float) -> None:
        self._cycle = cycle
        self._interval = interval
        self._due = time.monotonic() + first_delay
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="adk-collect", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(max(0.0, self._due - time.monotonic())):
            try:
                self._cycle()
            except Exception as exc:  # a bug must not end the collection thread
                log.warning("collection failed: %s", describe(exc))
            self._due = next_due(self._due, self._interval, time.monotonic())

    def stop(self, timeout: float) -> None:
        """Wait out a cycle in progress (at most `timeout`), then no more."""
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


class Agent:
    """Owns the sources, the series they feed and, once started, the collection thread and
    the exporter."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.telemetry = Telemetry()
        self.context = Context.build(config)
        self.sources: dict[str, Source] = {
            name: cls(self.context) for name, cls in SOURCES.items() if name in config.sources}
        observers = {name: src.observers() for name, src in self.sources.items()}
        observers[TELEMETRY] = Reporter(self.telemetry, config.sources).observers()
        self.bound = [Bound(m, observers[m.source][m.name]) for m in select(config)]
        self.started = time.monotonic()
        self.started_ns = time.time_ns()  # the start of the agent's own counts
        self.series = SeriesTable([b.metric for b in self.bound], self.clocks(),
                                  delta=config.temporality == "delta", cap=config.max_series)
        self.exporter: QueuedExporter | None = None
        self.output: QueuedExporter | ConsoleExporter | None = None
        self.encoder: Encoder | None = None
        self.schedule: Schedule | None = None
        self.last_collect: float | None = None  # when a cycle last ran (liveness)
        self.stopping = False
        self._lock = threading.Lock()  # one cycle at a time

    def clocks(self) -> Clocks:
        """When counts began: the host's boot time (read once, now) and the agent's start."""
        try:
            boot: int | None = round(self.context.read.boot_time() * 1e9)
        except Exception as exc:
            log.warning("boot time unknown (%s): host counters start at the agent's start",
                        describe(exc))
            boot = None
        return Clocks(boot=boot, agent=self.started_ns)

    def observe(self, bound: Bound) -> list[Obs] | None:
        """One metric's observations for this cycle; None when its source failed."""
        source = bound.metric.source
        started = time.perf_counter()
        try:
            out = list(bound.observer())
        except Exception as exc:
            self.telemetry.failed(source, bound.metric.name, exc)
            return None
        finally:
            self.telemetry.timed(source, time.perf_counter() - started)
        self.telemetry.ok(source, bound.metric.name)
        return out

    def collect(self) -> dict[str, list[Obs] | None]:
        """One collection cycle: every metric's observations, by name."""
        self.context.cycle.open()
        try:
            return {b.metric.name: self.observe(b) for b in self.bound}
        finally:
            self.telemetry.cycle_done()
            for source in self.sources.values():
                source.sweep()  # caches that churn (pids, veth names) do not pile up
            self.last_collect = time.monotonic()

    def points(self) -> list[tuple[Metric, list[Point]]]:
        """One collection cycle as the points that go out (for `once`: cumulative)."""
        return self.series.points(self.collect(), time.time_ns())

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

    def start(self) -> None:
        """The exporter, and the collection thread at this agent's phase of the interval."""
        s = self.config
        resource = build_resource(s, self.context.host)
        self.encoder = Encoder(resource, (DISTRO_NAME, __version__),
                               delta=s.temporality == "delta")
        self.output = build_exporter(s)
        if isinstance(self.output, QueuedExporter):
            self.exporter = self.output
            self.telemetry.export = self.output
        # The first periodic cycle at least half an interval after the first export (which
        # runner.py asks for at once, collect_now).
        delay = first_delay(phase(resource.get("service.instance.id", ""), s.interval),
                            s.interval, time.time(), min_gap=s.interval / 2)
        self.schedule = Schedule(self.export_cycle, s.interval, delay)
        self.schedule.start()

    def export_cycle(self) -> None:
        """One collection, encoded and handed to the exporter (which never blocks)."""
        with self._lock:
            observed = self.collect()
            now = time.time_ns()
            points = self.series.points(observed, now)
            if self.encoder is not None and self.output is not None:
                self.output.export(self.encoder.encode(points, now), self.encoder.points)

    def collect_now(self) -> None:
        """One collection and export outside the schedule (at start-up)."""
        try:
            self.export_cycle()
        except Exception as exc:  # the regular cycles will try again
            log.warning("first collection failed: %s", describe(exc))

    def alive(self) -> bool:
        """Whether the collection thread runs (before start-up and while stopping: yes)."""
        return self.schedule is None or self.stopping or self.schedule.thread.is_alive()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the cycles, make one last collection and export, and deliver what is queued
        within what is left of `timeout`."""
        self.stopping = True
        deadline = time.monotonic() + timeout
        if self.schedule is not None:
            self.schedule.stop(timeout)
            self.schedule = None
            try:
                self.export_cycle()
            except Exception as exc:
                log.warning("final collection failed: %s", describe(exc))
        if self.output is not None:
            self.output.shutdown(max(deadline - time.monotonic(), 0.0))
            self.output = None
