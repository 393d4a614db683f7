"""agent: the agent's own telemetry — export counts, queue, collection time and errors, and
its interpreter's garbage collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agent.sources.base import NO_ATTRS, Attrs, Context, Obs, Observer, Source

if TYPE_CHECKING:
    from agent.pipeline import Agent


class SelfSource(Source):
    name = "agent"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.agent: Agent | None = None  # attached by the pipeline once it exists
        self._scraper = Attrs("scraper")
        self._generation = Attrs("cpython.gc.generation")
        self._permanent = Attrs("error.permanent")

    def _export(self, field: str) -> Iterator[Obs]:
        exp = self.agent.exporter if self.agent else None
        if exp is not None:
            yield getattr(exp, field)(), NO_ATTRS

    def _failed(self) -> Iterator[Obs]:
        """Failed points as the Collector splits them: still queued (error.permanent false)
        or dropped for good (true)."""
        exp = self.agent.exporter if self.agent else None
        if exp is not None:
            yield exp.failed_points(), self._permanent(False)
            yield exp.rejected_points(), self._permanent(True)

    def _durations(self) -> Iterator[Obs]:
        if self.agent is None:
            return
        per: dict[str, float] = {}
        for bound in self.agent.bound:
            if bound.metric.source != self.name:
                per[bound.metric.source] = per.get(bound.metric.source, 0.0) + bound.seconds
        for source, seconds in per.items():
            yield seconds, self._scraper(source)

    def _errors(self) -> Iterator[Obs]:
        if self.agent is None:
            return
        for source in self.agent.sources:
            if source != self.name:
                yield self.agent.faults.errors.get(source, 0), self._scraper(source)

    def _gc(self, field: str) -> Iterator[Obs]:
        for generation, stats in enumerate(gc.get_stats()):
            yield stats[field], self._generation(generation)

    def observers(self) -> dict[str, Observer]:
        return {
            "otelcol_exporter_sent_metric_points": lambda: self._export("sent_points"),
            "otelcol_exporter_send_failed_metric_points": self._failed,
            "otelcol_exporter_enqueue_failed_metric_points": lambda: self._export(
                "dropped_points"),
            "otelcol_exporter_queue_size": lambda: self._export("queue_size"),
            "otelcol_exporter_queue_capacity": lambda: self._export("queue_capacity"),
            "otelcol_exporter_send_duration": lambda: self._export("send_duration"),
            "otelcol_scraper_duration": self._durations,
            "otelcol_scraper_errored_metric_points": self._errors,
            "cpython.gc.collections": lambda: self._gc("collections"),
            "cpython.gc.collected_objects": lambda: self._gc("collected"),
            "cpython.gc.uncollectable_objects": lambda: self._gc("uncollectable"),
        }
