"""Series churn through the real SDK: series that stop are forgotten, series that continue keep
their start time and value, the cap folds the rest into one overflow series."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)

import agent.pipeline as pipeline
from agent.export.exporter import TEMPORALITY
from agent.pipeline import Agent, Bound
from agent.sources.base import Kind, Metric, Obs
from tests.unit.rig import config

OVERFLOW = ("otel.metric.overflow", True)


class Capture(MetricExporter):
    def __init__(self, temporality: str) -> None:
        super().__init__(preferred_temporality=TEMPORALITY[temporality])
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
               **kwargs: object) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        pass

    def points(self, name: str) -> dict[tuple, tuple[float, int]]:
        """The last batch's points of a metric: attributes -> (value, start time)."""
        return {tuple(sorted(dp.attributes.items())): (dp.value, dp.start_time_unix_nano)
                for rm in self.batches[-1].resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics if m.name == name for dp in m.data.data_points}


class Churn:
    """An observer whose series come and go: `live` is what the next cycle observes."""

    def __init__(self) -> None:
        self.live: list[Obs] = []
        self.fail = False

    def __call__(self) -> Iterator[Obs]:
        if self.fail:
            raise OSError("transient")
        return iter(self.live)


@pytest.fixture
def rigged(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
           ) -> Iterator[tuple[Agent, Capture, Churn, Churn]]:
    temporality = getattr(request, "param", "cumulative")
    capture = Capture(temporality)
    monkeypatch.setattr(pipeline, "build_exporter", lambda s: capture)
    agent = Agent(config(interval="1h", max_series=50, sources="memory",
                         temporality=temporality))
    counter, gauge = Churn(), Churn()
    agent.bound += [
        Bound(Metric("test.churn", Kind.COUNTER, "1", "", ("id",), source="test"), counter),
        Bound(Metric("test.level", Kind.GAUGE, "1", "", ("id",), source="test"), gauge)]
    agent.start()
    try:
        yield agent, capture, counter, gauge
    finally:
        agent.shutdown(timeout=2)


def stored(agent: Agent, name: str) -> int:
    """Attribute sets the SDK holds for a metric."""
    storage = agent.provider._measurement_consumer._reader_storages[agent.reader]  # type: ignore[union-attr]
    return sum(len(v._attributes_aggregation)
               for i, views in storage._instrument_view_instrument_matches.items()
               if i.name == name for v in views)


def test_churning_series_are_forgotten_and_continuing_ones_keep_their_start(
        rigged: tuple[Agent, Capture, Churn, Churn]) -> None:
    agent, capture, counter, _ = rigged
    steady = {"id": "steady"}
    first_start = None
    # 300 cycles of 20 series, half of them new every cycle: 3,000 sets in all, far past the
    # SDK's own limit (2,000 by default; 2 x 50 + 1 here)
    for cycle in range(300):
        ids = range(cycle * 10, cycle * 10 + 20)
        counter.live = [(cycle * 10, steady)] + [(n, {"id": n}) for n in ids]
        agent.reader.collect()  # type: ignore[union-attr]
        points = capture.points("test.churn")
        assert OVERFLOW not in {item for key in points for item in key}, cycle
        assert set(points) == {(("id", "steady"),)} | {(("id", n),) for n in ids}
        assert stored(agent, "test.churn") == 21  # what this cycle observed, nothing more
        value, start = points[(("id", "steady"),)]
        assert value == cycle * 10  # cumulative: the observed total, not a sum of cycles
        first_start = first_start or start
        assert start == first_start  # a continuing series keeps its start time


def test_a_failing_observer_keeps_its_series(rigged: tuple[Agent, Capture, Churn, Churn]
                                             ) -> None:
    agent, capture, counter, _ = rigged
    counter.live = [(5, {"id": "a"}), (7, {"id": "b"})]
    agent.reader.collect()  # type: ignore[union-attr]
    start = capture.points("test.churn")[(("id", "a"),)][1]
    counter.fail = True
    agent.reader.collect()  # type: ignore[union-attr]
    assert capture.points("test.churn") == {}  # nothing made up while it fails...
    assert stored(agent, "test.churn") == 2  # ...and nothing forgotten
    counter.fail = False
    counter.live = [(9, {"id": "a"})]
    agent.reader.collect()  # type: ignore[union-attr]
    assert capture.points("test.churn") == {(("id", "a"),): (9, start)}
    assert stored(agent, "test.churn") == 1  # b is gone now that the observer answered


@pytest.mark.parametrize("rigged", ["delta"], indirect=True)
def test_delta_counters_stay_right_for_continuing_series(
        rigged: tuple[Agent, Capture, Churn, Churn]) -> None:
    agent, capture, counter, _ = rigged
    for cycle in range(1, 6):
        counter.live = [(100 * cycle, {"id": "steady"}), (1, {"id": cycle})]
        agent.reader.collect()  # type: ignore[union-attr]
        deltas = {dict(k)["id"]: v for k, (v, _) in capture.points("test.churn").items()}
        assert deltas == {"steady": 100, cycle: 1}  # first cycle: the whole 100 as the SDK does
    churn = [m for rm in capture.batches[-1].resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics if m.name == "test.churn"]
    assert churn[0].data.aggregation_temporality is AggregationTemporality.DELTA


def test_the_cap_folds_the_rest_into_one_overflow_series(
        rigged: tuple[Agent, Capture, Churn, Churn], caplog: pytest.LogCaptureFixture) -> None:
    agent, capture, counter, gauge = rigged
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        counter.live = [(1, {"id": n}) for n in range(80)]
        gauge.live = [(float(n), {"id": n}) for n in range(80)]
        agent.reader.collect()  # type: ignore[union-attr]
        points = capture.points("test.churn")
        assert len(points) == 50  # ADK_AGENT_MAX_SERIES points, the overflow one included
        assert points[(OVERFLOW,)][0] == 31  # the 31 beyond the first 49, summed
        assert {dict(k).get("id") for k in points} >= set(range(49))
        assert capture.points("test.level")[(OVERFLOW,)][0] == 79.0  # a gauge: the last value
    assert caplog.text.count("test.churn has 80 series") == 1
    assert caplog.text.count("test.level has 80 series") == 1  # one warning per metric
    counter.live = [(1, {"id": n}) for n in range(10)]
    agent.reader.collect()  # type: ignore[union-attr]
    assert (OVERFLOW,) not in capture.points("test.churn")  # under the cap again: gone
    assert stored(agent, "test.churn") == 10
