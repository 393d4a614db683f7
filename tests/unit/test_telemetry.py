"""The agent's report on itself: what the pipeline measured, and its interpreter's GC."""

from __future__ import annotations

import gc

from agent.telemetry import METRICS, Reporter, Telemetry


def points(reporter: Reporter, metric: str) -> dict[object, float]:
    return {next(iter(a.values()), None): v for v, a in reporter.observers()[metric]()}


def test_every_row_has_an_observer() -> None:
    assert set(Reporter(Telemetry(), []).observers()) == {m.name for m in METRICS}


def test_the_agents_own_garbage_collection_by_generation() -> None:
    before = [g["collections"] for g in gc.get_stats()]
    gc.collect(1)  # one collection of generations 0 and 1, counted under 1
    counts = points(Reporter(Telemetry(), []), "cpython.gc.collections")
    assert set(counts) == {0, 1, 2}
    assert counts[1] >= before[1] + 1 and counts[2] >= before[2]


def test_it_reports_the_last_complete_cycle_and_every_running_source() -> None:
    telemetry = Telemetry()
    reporter = Reporter(telemetry, ["cpu", "load", "agent"])
    telemetry.timed("load", 0.25)
    assert points(reporter, "otelcol_scraper_duration") == {}  # the cycle is under way
    telemetry.cycle_done()
    telemetry.errors["cpu"] = 7
    assert points(reporter, "otelcol_scraper_duration") == {"load": 0.25}
    assert points(reporter, "otelcol_scraper_errored_metric_points") == {"cpu": 7, "load": 0}
    assert points(reporter, "otelcol_exporter_sent_metric_points") == {}  # no exporter
