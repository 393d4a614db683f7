"""Series by series: starts, delta, the cap with its overflow series, forgetting."""

from __future__ import annotations

import logging

import pytest

from agent.export.series import OVERFLOW, Clocks, MetricSeries
from agent.sources.base import Kind, Metric, Start

CLOCKS = Clocks(boot=1_000, agent=5_000)
COUNTER = Metric("c", Kind.COUNTER, "s", "", start=Start.BOOT)
GAUGE = Metric("g", Kind.GAUGE, "1", "")
PROC = Metric("p", Kind.COUNTER, "s", "", start=Start.PROCESS)


def values(points: list) -> dict[object, tuple[float, int]]:
    return {tuple(p.attrs.values()): (p.value, p.start) for p in points}


def test_cumulative_sums_carry_their_clock_and_gauges_none() -> None:
    a = {"x": "a"}
    assert values(MetricSeries(COUNTER, CLOCKS, False, 10).points([(7, a)], 9_000)) == {
        ("a",): (7, 1_000)}
    assert values(MetricSeries(GAUGE, CLOCKS, False, 10).points([(0.5, a)], 9_000)) == {
        ("a",): (0.5, 0)}
    late = {"process.creation.time": "1970-01-01T00:00:00.000006Z"}  # 6000 ns
    assert values(MetricSeries(PROC, CLOCKS, False, 10).points([(3, late)], 9_000)) == {
        ("1970-01-01T00:00:00.000006Z",): (3, 6_000)}
    boot_unknown = Clocks(boot=None, agent=5_000)
    assert values(MetricSeries(COUNTER, boot_unknown, False, 10).points([(7, a)], 9_000)) == {
        ("a",): (7, 5_000)}  # the agent's start, said once by the pipeline


def test_delta_points_cover_one_interval_and_the_first_is_known() -> None:
    series = MetricSeries(COUNTER, CLOCKS, True, 10)
    host = {"x": "host"}  # counted since boot, before the agent: no first point
    assert series.points([(100, host)], 6_000) == []
    assert values(series.points([(130, host)], 7_000)) == {("host",): (30, 6_000)}
    assert values(series.points([(5, host)], 8_000)) == {("host",): (5, 7_000)}  # a reset
    proc = MetricSeries(PROC, CLOCKS, True, 10)
    after = {"process.creation.time": "1970-01-01T00:00:00.000006Z"}  # began after the agent
    began = after["process.creation.time"]
    assert values(proc.points([(3, after)], 7_000)) == {(began,): (3, 6_000)}
    updown = MetricSeries(Metric("u", Kind.UPDOWN, "By", "", start=Start.BOOT), CLOCKS, True, 10)
    assert values(updown.points([(9, host)], 7_000)) == {("host",): (9, 1_000)}  # cumulative


def test_series_that_stop_are_forgotten_unless_their_source_failed() -> None:
    series = MetricSeries(COUNTER, CLOCKS, True, 10)
    a, b = {"x": "a"}, {"x": "b"}
    series.points([(1, a), (1, b)], 6_000)
    assert len(series) == 2
    assert series.points(None, 7_000) == [] and len(series) == 2  # the source failed
    series.points([(2, a)], 8_000)
    assert len(series) == 1  # b went
    assert values(series.points([(3, a), (3, b)], 9_000)) == {("a",): (1, 8_000)}
    assert len(series) == 2  # b is new again: counted since before the agent, no first delta


def test_a_series_is_known_by_its_attributes_not_only_its_dict() -> None:
    series = MetricSeries(COUNTER, CLOCKS, True, 10)
    series.points([(10, {"x": "a"})], 6_000)
    # a source that builds a new dict each cycle: the same series, its delta continues
    assert values(series.points([(15, {"x": "a"})], 7_000)) == {("a",): (5, 6_000)}


def test_beyond_the_cap_the_rest_folds_into_one_overflow_series(
        caplog: pytest.LogCaptureFixture) -> None:
    series = MetricSeries(COUNTER, CLOCKS, False, 3)
    first = [(1, {"x": "a"}), (2, {"x": "b"})]
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        points = series.points([*first, (3, {"x": "c"}), (4, {"x": "d"})], 9_000)
        assert values(points) == {("a",): (1, 1_000), ("b",): (2, 1_000), (True,): (7, 5_000)}
    assert points[-1].attrs == OVERFLOW  # three series in all: the cap counts it
    assert caplog.text.count("c has 4 series, more than ADK_AGENT_MAX_SERIES=3") == 1
    # known series keep their place; when all fit, none is folded
    points = series.points([(3, {"x": "c"}), (1, {"x": "a"}), (2, {"x": "b"})], 9_000)
    assert values(points) == {("a",): (1, 1_000), ("b",): (2, 1_000), ("c",): (3, 1_000)}
    gauge = MetricSeries(GAUGE, CLOCKS, False, 2)
    assert values(gauge.points([(1, {"x": "a"}), (0.25, {"x": "b"}), (0.5, {"x": "c"})], 9)) \
        == {("a",): (1, 0), (True,): (0.5, 0)}  # a gauge's overflow keeps the last value


def test_churn_keeps_memory_to_the_live_series() -> None:
    series = MetricSeries(GAUGE, CLOCKS, False, 1000)
    for n in range(5000):  # a new container every cycle, one that stays
        points = series.points([(1, {"id": f"c{n}"}), (2, {"id": "kept"})], n)
    assert len(series) == 2
    assert {p.attrs["id"] for p in points} == {"c4999", "kept"}  # never an overflow series
