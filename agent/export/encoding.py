"""A cycle's points -> one OTLP ExportMetricsServiceRequest, with the resource, the scope and
every attribute set encoded once and reused.

The agent's series keep the same attribute dictionaries from cycle to cycle (sources intern
them; agent/export/series.py keeps one per series), so after the first cycle a point costs a
copy of ready-made KeyValues instead of a fresh encoding of each key and value. The bytes are
the ones the OpenTelemetry SDK's encoder writes for the same points (tests/unit/export/
test_encoding.py holds the two together).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from agent.export.series import Point
from agent.sources.base import Kind, Metric

log = logging.getLogger("agent.export")
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
INT64 = (-(2**63), 2**63 - 1)


def any_value(value: object) -> AnyValue:
    """An attribute value as OTLP carries it (the agent's are str, bool, int or float)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int) and INT64[0] <= value <= INT64[1]:
        return AnyValue(int_value=value)
    if isinstance(value, int | float):
        return AnyValue(double_value=float(value))
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(string_value=str(value))


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


class Encoder:
    def __init__(self, resource: Mapping[str, Any], scope: tuple[str, str],
                 delta: bool = False) -> None:
        self._resource = Resource(attributes=key_values(resource))
        self._scope = InstrumentationScope(name=scope[0], version=scope[1])
        self._delta = delta
        # id(attributes) -> (attributes, encoded): the object is kept so its id cannot be reused
        self._attrs: dict[int, tuple[Mapping[str, Any], list[KeyValue]]] = {}
        self._unencodable: set[str] = set()  # metrics warned about a value out of range
        self.points = 0  # data points in the last request encoded

    def _kv(self, attrs: Mapping[str, Any], seen: set[int]) -> list[KeyValue]:
        key = id(attrs)
        seen.add(key)
        hit = self._attrs.get(key)
        if hit is None or hit[0] is not attrs:
            hit = self._attrs[key] = (attrs, key_values(attrs))
        return hit[1]

    def encode(self, metrics: Sequence[tuple[Metric, Sequence[Point]]], now: int
               ) -> ExportMetricsServiceRequest:
        """The request for one cycle (`now`: its time, ns); `points` then says how many data
        points it holds. Metrics without points are left out."""
        seen: set[int] = set()
        points = 0
        out = ExportMetricsServiceRequest()
        rm = out.resource_metrics.add()
        rm.resource.CopyFrom(self._resource)
        sm = rm.scope_metrics.add()
        sm.scope.CopyFrom(self._scope)
        for metric, observed in metrics:
            if not observed:
                continue
            pm = sm.metrics.add(name=metric.name, description=metric.description,
                                unit=metric.unit)
            gauge = metric.kind is Kind.GAUGE
            if gauge:
                target = pm.gauge
            else:
                target = pm.sum
                target.aggregation_temporality = (
                    DELTA if self._delta and metric.kind is Kind.COUNTER else CUMULATIVE)
                target.is_monotonic = metric.kind is Kind.COUNTER
            add = target.data_points.add
            for p in observed:
                value = p.value
                if not isinstance(value, int):
                    if not math.isfinite(value):
                        self._warn(metric, value)
                        continue
                elif not INT64[0] <= value <= INT64[1]:
                    self._warn(metric, value)
                    value = float(value)  # a u64 counter at its top: as a double, not lost
                dp = add(time_unix_nano=now)
                if not gauge:
                    dp.start_time_unix_nano = p.start
                dp.attributes.extend(self._kv(p.attrs, seen))
                if isinstance(value, int):
                    dp.as_int = value
                else:
                    dp.as_double = value
            if not target.data_points:
                del sm.metrics[-1]
                continue
            points += len(target.data_points)
        if not sm.metrics:
            del out.resource_metrics[-1]
        self.points = points
        if len(self._attrs) > 2 * len(seen) + 64:  # series that went away: forget them
            self._attrs = {k: v for k, v in self._attrs.items() if k in seen}
        return out

    def _warn(self, metric: Metric, value: float | int) -> None:
        if metric.name not in self._unencodable:
            self._unencodable.add(metric.name)
            what = ("not a finite number: the point is left out" if isinstance(value, float)
                    else "beyond a signed 64-bit integer: sent as a double")
            log.warning("%s has a value %s (%s); said once per metric", metric.name, value, what)
