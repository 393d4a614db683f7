"""Halving an export request the collector refuses as too large (gRPC RESOURCE_EXHAUSTED for
the message size, HTTP 413): by metrics while it holds more than one, then by the data points
of its one metric, down to a single point. Each half keeps its resource and scope.

The only module of the agent that parses OTLP with the protobuf runtime (a few MB of memory):
it is imported when a request must be split or an old queue file read, not before."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics, ScopeMetrics

Request = ExportMetricsServiceRequest
_Unit = tuple[ResourceMetrics, ScopeMetrics, Metric]


def parse(payload: bytes) -> Request:
    return ExportMetricsServiceRequest.FromString(payload)


def count_points(request: Request) -> int:
    n = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                n += len(getattr(m, kind).data_points) if kind else 0
    return n


def halves(request: Request) -> tuple[Request, Request] | None:
    """Two requests that together hold what `request` holds, in order; None for one point
    (or none), which cannot be split."""
    units: list[_Unit] = [(rm, sm, m) for rm in request.resource_metrics
                          for sm in rm.scope_metrics for m in sm.metrics]
    if len(units) > 1:
        mid = len(units) // 2
        return _build(units[:mid]), _build(units[mid:])
    if not units:
        return None
    kind = units[0][2].WhichOneof("data")
    if kind is None or len(getattr(units[0][2], kind).data_points) < 2:
        return None
    first, second = _build(units), _build(units)
    points = len(getattr(units[0][2], kind).data_points)
    del _points(first, kind)[points // 2:]
    del _points(second, kind)[:points // 2]
    return first, second


def describe(request: Request) -> str:
    """The metric names a request holds, for a log line."""
    names = sorted({m.name for rm in request.resource_metrics for sm in rm.scope_metrics
                    for m in sm.metrics})
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _build(units: list[_Unit]) -> Request:
    out = Request()
    last_rm: ResourceMetrics | None = None
    last_sm: ScopeMetrics | None = None
    for rm, sm, metric in units:
        if rm is not last_rm:
            orm = out.resource_metrics.add(schema_url=rm.schema_url)
            orm.resource.CopyFrom(rm.resource)
            last_rm, last_sm = rm, None
        if sm is not last_sm:
            osm = orm.scope_metrics.add(schema_url=sm.schema_url)
            osm.scope.CopyFrom(sm.scope)
            last_sm = sm
        osm.metrics.add().CopyFrom(metric)
    return out


def _points(request: Request, kind: str) -> Any:
    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    return getattr(metric, kind).data_points
