"""Numbered cycles pushed through the agent's real exporter (QueuedExporter: outbox, sender
thread, the chosen client) and counted at the receiver, to check that every cycle arrives
exactly once whatever the path does in between.

A cycle is one request as the agent encodes it: `metrics` gauges named `test.cycle.<m>`, each
with `points` data points whose time is the cycle number; `pad` bytes of attribute per point
make it large.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from agent.export.encoding import Encoder
from agent.export.exporter import QueuedExporter
from agent.export.series import Point
from agent.settings import load_config
from agent.sources.base import Kind, Metric
from tests.harness import wait_until
from tests.otlp_receiver import Point as Arrived

RESOURCE = {"service.name": "cycles"}
SCOPE = ("tests.cycles", "")


def cycle(n: int, metrics: int = 2, points: int = 10, pad: int = 0,
          huge: tuple[int, int, int] | None = None) -> ExportMetricsServiceRequest:
    """Cycle `n` as the agent's encoder writes it; `huge`: (metric, point, bytes) of one
    point padded on its own."""
    filler = "x" * pad
    out = []
    for m in range(metrics):
        metric = Metric(f"test.cycle.{m}", Kind.GAUGE, "1", "")
        observed = []
        for i in range(points):
            attrs: dict[str, str | int] = {"i": i, "pad": filler} if pad else {"i": i}
            if huge is not None and (m, i) == huge[:2]:
                attrs = {"i": i, "pad": "y" * huge[2]}
            observed.append(Point(i, attrs))
        out.append((metric, observed))
    return ExportMetricsServiceRequest.FromString(Encoder(RESOURCE, SCOPE).encode(out, n))


def arrivals(points: Iterable[Arrived]) -> Counter[tuple[int, str, int]]:
    """How often each (cycle, metric, point index) arrived."""
    return Counter((p.time_unix_nano, p.name, int(p.attributes["i"])) for p in points
                   if p.name.startswith("test.cycle."))


def exactly_once(points: Iterable[Arrived], cycles: Iterable[int], metrics: int,
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
        exp.shutdown(timeout=2.0)


def push(exp: QueuedExporter, cycles: Iterable[int], **shape: int) -> None:
    for n in cycles:
        request = cycle(n, **shape)
        exp.export(request.SerializeToString(), count(request))


def count(request: ExportMetricsServiceRequest) -> int:
    return sum(len(m.gauge.data_points) for rm in request.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics)


def drained(exp: QueuedExporter, timeout: float = 30) -> bool:
    return wait_until(lambda: len(exp.outbox) == 0, timeout)
