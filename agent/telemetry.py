"""The agent on itself: what the pipeline measures from above — each source's collection time
and errors, the exporter's figures — and the metrics that report it, named like the
OpenTelemetry Collector's own, beside its interpreter's garbage collection.

This is not a source of host data: the pipeline writes the measurements and binds these rows
(`ADK_AGENT_SOURCES` still calls them `agent`); nothing here reaches into the pipeline.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from agent.sources.base import NO_ATTRS, Attrs, Kind, Metric, Obs, Observer

log = logging.getLogger("agent")
NAME = "agent"  # its name among the sources


class ExportFigures(Protocol):
    """The exporter's counts, as the `otelcol_exporter_*` metrics report them."""

    def sent_points(self) -> int: ...
    def failed_points(self) -> int: ...
    def dropped_points(self) -> int: ...
    def queue_size(self) -> int: ...
    def queue_capacity(self) -> int: ...
    def send_duration(self) -> float: ...


def describe(exc: BaseException) -> str:
    """One line for a read failure: what failed and on which file, no traceback."""
    if type(exc).__name__ == "AccessDenied":  # psutil's, without importing psutil for it
        return "permission denied"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Telemetry:
    seconds: dict[str, float] = field(default_factory=dict)  # source -> last complete cycle
    errors: dict[str, int] = field(default_factory=dict)  # source -> observations lost
    failing: dict[str, dict[str, str]] = field(default_factory=dict)  # source -> metric -> error
    export: ExportFigures | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _timing: dict[str, float] = field(default_factory=dict, repr=False)  # the cycle under way

    def timed(self, source: str, seconds: float) -> None:
        self._timing[source] = self._timing.get(source, 0.0) + seconds

    def cycle_done(self) -> None:
        """A collection ended: its timings become the ones reported."""
        self.seconds, self._timing = self._timing, {}

    def failed(self, source: str, metric: str, exc: BaseException) -> None:
        """One warning when a source starts failing, not one per cycle."""
        text = describe(exc)
        with self._lock:
            self.errors[source] = self.errors.get(source, 0) + 1
            now = self.failing.setdefault(source, {})
            first = not now
            now[metric] = text
        if first:
            log.warning("source %s failed: %s (its metrics are skipped until it recovers)",
                        source, text)

    def ok(self, source: str, metric: str) -> None:
        """One line when the last failing metric of a source recovers."""
        with self._lock:
            now = self.failing.get(source)
            if not now or metric not in now:
                return
            del now[metric]
            recovered = not now
        if recovered:
            log.info("source %s recovered", source)


C, U, G = Kind.COUNTER, Kind.UPDOWN, Kind.GAUGE
GEN = ("cpython.gc.generation",)
EXPORT = (
    # name, ExportFigures method, kind, unit, description
    ("otelcol_exporter_sent_metric_points", "sent_points", C, "{datapoint}",
     "Points the collector accepted"),
    ("otelcol_exporter_send_failed_metric_points", "failed_points", C, "{datapoint}",
     "Points in export attempts that failed (they stay queued)"),
    ("otelcol_exporter_enqueue_failed_metric_points", "dropped_points", C, "{datapoint}",
     "Points dropped because the queue was full"),
    ("otelcol_exporter_queue_size", "queue_size", U, "{batch}",
     "Batches waiting for the collector"),
    ("otelcol_exporter_queue_capacity", "queue_capacity", U, "{batch}",
     "Most batches the queue keeps"),
    ("otelcol_exporter_send_duration", "send_duration", G, "s",
     "Duration of the last export attempt"),
)
METRICS: tuple[Metric, ...] = (
    *(Metric(name, kind, unit, text, source=NAME) for name, _, kind, unit, text in EXPORT),
    Metric("otelcol_scraper_duration", G, "s", "Time the last collection spent per source",
           ("scraper",), source=NAME),
    Metric("otelcol_scraper_errored_metric_points", C, "{datapoint}",
           "Metric observations lost to source errors", ("scraper",), source=NAME),
    # the agent's own interpreter, as the CPython runtime conventions name it
    Metric("cpython.gc.collections", C, "{collection}",
           "Garbage collections of each generation in the agent", GEN, source=NAME),
    Metric("cpython.gc.collected_objects", C, "{object}",
           "Objects the agent's garbage collector freed, by generation", GEN, source=NAME),
    Metric("cpython.gc.uncollectable_objects", C, "{object}",
           "Objects the agent's garbage collector found uncollectable, by generation", GEN,
           source=NAME),
)


class Reporter:
    """Observers of METRICS over one Telemetry."""

    def __init__(self, telemetry: Telemetry, sources: list[str]) -> None:
        self.telemetry = telemetry
        self.sources = [s for s in sources if s != NAME]
        self._scraper = Attrs("scraper")
        self._generation = Attrs(*GEN)

    def _export(self, figure: str) -> Observer:
        def observe() -> Iterator[Obs]:
            export = self.telemetry.export
            if export is not None:
                yield getattr(export, figure)(), NO_ATTRS
        return observe

    def _durations(self) -> Iterator[Obs]:
        for source, seconds in self.telemetry.seconds.items():
            if source != NAME:
                yield seconds, self._scraper(source)

    def _errors(self) -> Iterator[Obs]:
        for source in self.sources:
            yield self.telemetry.errors.get(source, 0), self._scraper(source)

    def _gc(self, field: str) -> Observer:
        return lambda: [(stats[field], self._generation(generation))
                        for generation, stats in enumerate(gc.get_stats())]

    def observers(self) -> dict[str, Observer]:
        return {
            **{name: self._export(figure) for name, figure, *_ in EXPORT},
            "otelcol_scraper_duration": self._durations,
            "otelcol_scraper_errored_metric_points": self._errors,
            "cpython.gc.collections": self._gc("collections"),
            "cpython.gc.collected_objects": self._gc("collected"),
            "cpython.gc.uncollectable_objects": self._gc("uncollectable"),
        }
