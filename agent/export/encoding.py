"""MetricsData -> OTLP request, as the SDK's encode_metrics does, with the resource, the scope
and every attribute set encoded once and reused.

The agent's series keep the same attribute dictionaries from cycle to cycle (sources intern
them), so after the first cycle a point costs a copy of ready-made KeyValues instead of a
fresh encoding of each key and value: 0.23 ms instead of 0.67 ms for the default 116 points
here. Anything but sums and gauges goes to the SDK's encoder; tests/test_encoding.py holds the
two to the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_attributes,
    _encode_instrumentation_scope,
)
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PB2Resource
from opentelemetry.sdk.metrics.export import Gauge, MetricsData, Sum


class Encoder:
    def __init__(self) -> None:
        # id(object) -> (object, encoded): the object is kept so its id cannot be reused
        self._attrs: dict[int, tuple[Mapping[str, Any], list[Any]]] = {}
        self._resources: dict[int, tuple[Any, PB2Resource]] = {}
        self.points = 0  # data points in the last request encoded

    def _kv(self, attrs: Mapping[str, Any], seen: set[int]) -> list[Any]:
        key = id(attrs)
        seen.add(key)
        hit = self._attrs.get(key)
        if hit is None or hit[0] is not attrs:
            hit = self._attrs[key] = (attrs, _encode_attributes(attrs))
        return hit[1]

    def encode(self, data: MetricsData) -> ExportMetricsServiceRequest:
        """The request; `points` then says how many data points it holds."""
        if not all(isinstance(m.data, Sum | Gauge) for rm in data.resource_metrics
                   for sm in rm.scope_metrics for m in sm.metrics):
            self.points = sum(len(m.data.data_points) for rm in data.resource_metrics
                              for sm in rm.scope_metrics for m in sm.metrics)
            return encode_metrics(data)
        seen: set[int] = set()
        points = 0
        out = ExportMetricsServiceRequest()
        for rm in data.resource_metrics:
            prm = out.resource_metrics.add()
            res = self._resources.get(id(rm.resource))
            if res is None or res[0] is not rm.resource:
                res = self._resources[id(rm.resource)] = (
                    rm.resource, PB2Resource(attributes=_encode_attributes(rm.resource.attributes)))
            prm.resource.CopyFrom(res[1])
            prm.schema_url = rm.resource.schema_url
            for sm in rm.scope_metrics:
                psm = prm.scope_metrics.add()
                psm.scope.CopyFrom(_encode_instrumentation_scope(sm.scope))
                psm.schema_url = sm.scope.schema_url or ""
                for m in sm.metrics:
                    pm = psm.metrics.add(name=m.name, description=m.description, unit=m.unit)
                    d = m.data
                    if isinstance(d, Sum):
                        target = pm.sum
                        target.aggregation_temporality = d.aggregation_temporality
                        target.is_monotonic = d.is_monotonic
                    else:
                        target = pm.gauge
                    points += len(d.data_points)
                    for dp in d.data_points:
                        pt = target.data_points.add(time_unix_nano=dp.time_unix_nano)
                        if isinstance(d, Sum):
                            pt.start_time_unix_nano = dp.start_time_unix_nano
                        pt.attributes.extend(self._kv(dp.attributes, seen))
                        if isinstance(dp.value, int):
                            pt.as_int = dp.value
                        else:
                            pt.as_double = dp.value
        self.points = points
        if len(self._attrs) > 2 * len(seen) + 64:  # series that went away: forget them
            self._attrs = {k: v for k, v in self._attrs.items() if k in seen}
        return out
