"""A cycle's points -> one OTLP ExportMetricsServiceRequest, serialised.

The request is written in protobuf's wire format directly, each piece that repeats from cycle
to cycle made once: the resource, the scope, each metric's name, description and unit, and
each series' attributes (sources intern their attribute dicts and agent/export/series.py keeps
one per series). A data point is then its fixed-size fields packed in one call and its
attributes' bytes: about a microsecond, where building protobuf objects took four. The bytes
are the ones the protobuf library writes for the same message (fields in number order; tests/
unit/export/test_encoding.py holds them to the OpenTelemetry SDK's encoder).
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from agent.export.series import Point
from agent.sources.base import Kind, Metric

log = logging.getLogger("agent.export")
INT64 = (-(2**63), 2**63 - 1)
CUMULATIVE, DELTA = 2, 1  # AggregationTemporality


def varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # a negative int64 is its two's complement, ten bytes
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (a string, bytes or a message)."""
    return bytes((tag,)) + varint(len(payload)) + payload


def any_value(value: object) -> bytes:
    """An AnyValue (the agent's attribute values are str, bool, int or float)."""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int) and INT64[0] <= value <= INT64[1]:
        return b"\x18" + varint(value)
    if isinstance(value, int | float):
        return b"\x21" + struct.pack("<d", float(value))
    if isinstance(value, bytes):
        return field(0x3A, value)
    return field(0x0A, str(value).encode())


def key_values(attrs: Mapping[str, Any], tag: int = 0x3A) -> bytes:
    """Repeated KeyValue, as field `tag` (NumberDataPoint.attributes: 7; Resource: 1)."""
    return b"".join(field(tag, field(0x0A, k.encode()) + field(0x12, any_value(v)))
                    for k, v in attrs.items())


# A data point's fields 2 (start_time_unix_nano), 3 (time_unix_nano) and 4 (as_double) or 6
# (as_int), fixed 64-bit each, in one pack; a gauge has no start (proto3 leaves a 0 out).
_SUM = {float: struct.Struct("<BQBQBd"), int: struct.Struct("<BQBQBq")}
_GAUGE = {float: struct.Struct("<BQBd"), int: struct.Struct("<BQBq")}
_VALUE_TAG = {float: 0x21, int: 0x31}
_POINT_TAG = [b"\x0a" + varint(n) for n in range(1 << 14)]  # data_points (field 1), length


class Encoder:
    def __init__(self, resource: Mapping[str, Any], scope: tuple[str, str],
                 delta: bool = False) -> None:
        self._resource = field(0x0A, key_values(resource, 0x0A))
        name, version = scope
        self._scope = field(0x0A, (field(0x0A, name.encode()) if name else b"")
                            + (field(0x12, version.encode()) if version else b""))
        self._delta = delta
        # id(attributes) -> (attributes, encoded): the object is kept so its id cannot be reused
        self._attrs: dict[int, tuple[Mapping[str, Any], bytes]] = {}
        self._heads: dict[str, bytes] = {}  # metric name -> its name, description, unit
        self._unencodable: set[str] = set()  # metrics warned about a value out of range
        self.points = 0  # data points in the last request encoded

    def _kv(self, attrs: Mapping[str, Any], seen: set[int]) -> bytes:
        key = id(attrs)
        seen.add(key)
        hit = self._attrs.get(key)
        if hit is None or hit[0] is not attrs:
            hit = self._attrs[key] = (attrs, key_values(attrs))
        return hit[1]

    def _head(self, metric: Metric) -> bytes:
        head = self._heads.get(metric.name)
        if head is None:
            head = self._heads[metric.name] = (
                field(0x0A, metric.name.encode())
                + (field(0x12, metric.description.encode()) if metric.description else b"")
                + (field(0x1A, metric.unit.encode()) if metric.unit else b""))
        return head

    def encode(self, metrics: Sequence[tuple[Metric, Sequence[Point]]], now: int) -> bytes:
        """The serialised request for one cycle (`now`: its time, ns); `points` then says
        how many data points it holds. Metrics without points are left out."""
        seen: set[int] = set()
        points = 0
        out = []
        for metric, observed in metrics:
            if not observed:
                continue
            gauge = metric.kind is Kind.GAUGE
            packs = _GAUGE if gauge else _SUM
            body: list[bytes] = []
            for p in observed:
                value = p.value
                kind = int if isinstance(value, int) else float
                if kind is int and not INT64[0] <= value <= INT64[1]:
                    self._warn(metric, value)
                    kind, value = float, float(value)  # a u64 counter at its top: not lost
                elif kind is float and not math.isfinite(value):
                    self._warn(metric, value)
                    continue
                kv = self._kv(p.attrs, seen)
                if gauge:
                    fixed = packs[kind].pack(0x19, now, _VALUE_TAG[kind], value)
                elif p.start:
                    fixed = packs[kind].pack(0x11, p.start, 0x19, now, _VALUE_TAG[kind], value)
                else:  # a start of 0 is left out, as proto3 does
                    fixed = _GAUGE[kind].pack(0x19, now, _VALUE_TAG[kind], value)
                size = len(fixed) + len(kv)
                body.append(_POINT_TAG[size] if size < 1 << 14 else b"\x0a" + varint(size))
                body.append(fixed)
                body.append(kv)
            if not body:
                continue
            points += len(body) // 3
            data = b"".join(body)
            if gauge:
                inner = field(0x2A, data)  # Metric.gauge
            else:
                monotonic = metric.kind is Kind.COUNTER
                temporality = DELTA if self._delta and monotonic else CUMULATIVE
                inner = field(0x3A, data + bytes((0x10, temporality))
                              + (b"\x18\x01" if monotonic else b""))  # Metric.sum
            out.append(field(0x12, self._head(metric) + inner))  # ScopeMetrics.metrics
        self.points = points
        if len(self._attrs) > 2 * len(seen) + 64:  # series that went away: forget them
            self._attrs = {k: v for k, v in self._attrs.items() if k in seen}
        if not out:
            return b""
        # ExportMetricsServiceRequest > ResourceMetrics > ScopeMetrics, joined once: nesting
        # field() would copy the whole request at each level
        inner = len(self._scope) + sum(map(len, out))  # ScopeMetrics
        scope_head = b"\x12" + varint(inner)  # ResourceMetrics.scope_metrics
        outer = len(self._resource) + len(scope_head) + inner
        return b"".join((b"\x0a", varint(outer), self._resource, scope_head, self._scope, *out))

    def _warn(self, metric: Metric, value: float | int) -> None:
        if metric.name not in self._unencodable:
            self._unencodable.add(metric.name)
            what = ("not a finite number: the point is left out" if isinstance(value, float)
                    else "beyond a signed 64-bit integer: sent as a double")
            log.warning("%s has a value %s (%s); said once per metric", metric.name, value, what)
