"""Numbered cycles pushed through the agent's real exporter (QueuedExporter: outbox, sender
thread, the chosen client) and counted at the receiver, to check that every cycle arrives
exactly once whatever the path does in between.

A cycle is one SDK MetricsData: `metrics` gauges named `test.cycle.<m>`, each with `points`
data points whose time is the cycle number; `pad` bytes of attribute per point make it large.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agent.export.exporter import QueuedExporter
from agent.settings import load_config
from tests.harness import wait_until
from tests.otlp_receiver import Point

RESOURCE = Resource({"service.name": "cycles"})
SCOPE = InstrumentationScope("tests.cycles")


def cycle(n: int, metrics: int = 2, points: int = 10, pad: int = 0) -> MetricsData:
    filler = "x" * pad
    return MetricsData([ResourceMetrics(RESOURCE, [ScopeMetrics(SCOPE, [
        Metric(f"test.cycle.{m}", None, "1", Gauge([
            NumberDataPoint({"i": i, "pad": filler} if pad else {"i": i}, 0, n, i)
            for i in range(points)]))
        for m in range(metrics)], "")], "")])


def arrivals(points: Iterable[Point]) -> Counter[tuple[int, str, int]]:
    """How often each (cycle, metric, point index) arrived."""
    return Counter((p.time_unix_nano, p.name, int(p.attributes["i"])) for p in points
                   if p.name.startswith("test.cycle."))


def exactly_once(points: Iterable[Point], cycles: Iterable[int], metrics: int,
                 per_metric: int) -> list[str]:
    """What is wrong with the arrivals (missing or repeated points), empty when each point of
    each cycle arrived once."""
    seen = arrivals(points)
    want = {(c, f"test.cycle.{m}", i) for c in cycles for m in range(metrics)
            for i in range(per_metric)}
    wrong = [f"{key} arrived {seen.get(key, 0)} times" for key in sorted(want)
             if seen.get(key, 0) != 1]
    wrong += [f"{key} was never sent" for key in seen if key not in want]
    return wrong[:10]


@contextmanager
def exporter(endpoint: str, **settings: Any) -> Iterator[QueuedExporter]:
    """The agent's exporter to `endpoint` (grpc by default), shut down after."""
    config = load_config(endpoint=endpoint, interval="200ms", export_timeout="5s",
                         **settings)
    exp = QueuedExporter(config)
    try:
        yield exp
    finally:
        exp.shutdown(timeout_millis=2000)


def push(exp: QueuedExporter, cycles: Iterable[int], **shape: int) -> None:
    for n in cycles:
        exp.export(cycle(n, **shape))


def drained(exp: QueuedExporter, timeout: float = 30) -> bool:
    return wait_until(lambda: len(exp.outbox) == 0, timeout)
