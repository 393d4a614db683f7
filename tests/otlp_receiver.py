"""An in-test OTLP metrics receiver: the OTLP/gRPC ``MetricsService`` on a loopback port.

It records every ``ExportMetricsServiceRequest`` it accepts, flattens them into simple
:class:`Point` records, and can be told to answer with a gRPC error status to simulate a
collector that is down (``UNAVAILABLE``) or that rejects data (``INVALID_ARGUMENT``)::

    with Receiver() as receiver:
        ...  # point an exporter (or a collector) at receiver.endpoint
        assert receiver.wait_for_points("system.memory.usage", timeout=5)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ExportRequest = metrics_service_pb2.ExportMetricsServiceRequest

POLL_INTERVAL = 0.02
"""Upper bound (seconds) between two evaluations of a :meth:`Receiver.wait_for` predicate;
an arriving request wakes the waiter at once."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def decode_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (arrays as lists, kvlists as dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    return getattr(value, kind)


def decode_attributes(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP ``KeyValue`` attributes as a ``{key: value}`` dict."""
    return {kv.key: decode_value(kv.value) for kv in attributes}


@dataclass(frozen=True)
class Point:
    """One data point of one metric, as received.

    ``kind`` is ``"sum"``, ``"gauge"``, ``"histogram"``, ``"exponential_histogram"`` or
    ``"summary"``; for the last three ``value`` is the point's count. ``monotonic`` is set for
    sums only, ``temporality`` (``AggregationTemporality``: 1 delta, 2 cumulative) for sums and
    histograms only.
    """

    name: str
    kind: str
    unit: str
    attributes: dict[str, Any] = field(hash=False)
    value: float | int
    time_unix_nano: int
    start_time_unix_nano: int
    resource: dict[str, Any] = field(hash=False)
    monotonic: bool | None = None
    temporality: int | None = None


def flatten(request: ExportRequest) -> list[Point]:
    """Every data point of an ``ExportMetricsServiceRequest``, in message order."""
    out: list[Point] = []
    for rm in request.resource_metrics:
        resource = decode_attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                monotonic = data.is_monotonic if kind == "sum" else None
                temporality = (data.aggregation_temporality
                               if kind in ("sum", "histogram", "exponential_histogram") else None)
                for dp in data.data_points:
                    value: float | int
                    if kind in ("sum", "gauge"):
                        value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                    else:
                        value = dp.count
                    out.append(Point(
                        name=metric.name, kind=kind, unit=metric.unit,
                        attributes=decode_attributes(dp.attributes), value=value,
                        time_unix_nano=dp.time_unix_nano,
                        start_time_unix_nano=dp.start_time_unix_nano,
                        resource=resource, monotonic=monotonic, temporality=temporality))
    return out


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: ExportRequest,
               context: grpc.ServicerContext) -> metrics_service_pb2.ExportMetricsServiceResponse:
        metadata = dict(context.invocation_metadata())
        code = self._receiver._record(request, metadata)
        if code is not None:
            echo = self._receiver._echo
            context.abort(code, f"injected failure: {code.name}" + (
                f": invalid {echo} '{metadata.get(echo)}'" if echo else ""))
        response = metrics_service_pb2.ExportMetricsServiceResponse()
        if self._receiver.partial is not None:
            response.partial_success.rejected_data_points = self._receiver.partial[0]
            response.partial_success.error_message = self._receiver.partial[1]
        return response


class Receiver:
    """An OTLP/gRPC metrics endpoint on ``127.0.0.1`` recording what it is sent.

    The port is reserved when the object is built, so ``endpoint`` can be handed out before
    :meth:`start`; until then (and after :meth:`stop`) connections are refused. A stopped
    receiver can be started again on the same port. All methods are thread-safe.
    """

    def __init__(self, port: int = 0, *,
                 credentials: grpc.ServerCredentials | None = None,
                 options: tuple[tuple[str, Any], ...] = ()) -> None:
        """``port=0`` lets the OS choose; ``credentials`` serves TLS instead of plaintext;
        ``options`` are grpc server options (``grpc.max_receive_message_length``, ...)."""
        self._credentials = credentials
        self._options = options
        self._cond = threading.Condition()
        self._requests: list[ExportRequest] = []
        self._points: list[Point] = []
        self._metadata: list[dict[str, Any]] = []
        self._generation = 0  # bumped on every call, accepted or rejected
        self._rejected = 0
        self._failure: grpc.StatusCode | None = None
        self._fail_remaining: int | None = None
        self._echo: str | None = None
        self._started = False
        self.partial: tuple[int, str] | None = None
        """When set, accepted requests are answered with this OTLP partial success
        (rejected points, message)."""
        self._server = self._bind(port)

    def _bind(self, port: int) -> grpc.Server:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                             options=[("grpc.so_reuseport", 0), *self._options])
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsService(self), server)
        address = f"127.0.0.1:{port}"
        if self._credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, self._credentials)
        if bound == 0:
            raise OSError(f"cannot bind the OTLP receiver to {address}")
        self.port: int = bound  # fixed for the receiver's lifetime
        return server

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``: prefix ``http://`` for exporters that want a URL."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving (again, after :meth:`stop`, on the same port)."""
        with self._cond:
            if self._started:
                return self
            if self._server is None:
                self._server = self._bind(self.port)
            self._server.start()
            self._started = True
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop serving and wait until the port is closed; recorded data is kept."""
        with self._cond:
            server, self._server, started = self._server, None, self._started
            self._started = False
        if server is not None and started:
            server.stop(grace).wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- failure injection -------------------------------------------------------------

    def fail_with(self, code: grpc.StatusCode, times: int | None = None,
                  echo: str | None = None) -> None:
        """Answer the next ``times`` requests (every request if None, until :meth:`recover`)
        with ``code`` instead of accepting them. Rejected requests are not recorded; they are
        counted in :attr:`rejected`. ``echo`` names a metadata key whose value the error
        message quotes, as some authenticating proxies do with the token they refuse."""
        if times is not None and times < 0:
            raise ValueError("times must be >= 0 or None")
        with self._cond:
            self._failure, self._fail_remaining, self._echo = code, times, echo

    def recover(self) -> None:
        """Accept requests again."""
        with self._cond:
            self._failure, self._fail_remaining = None, None

    def _record(self, request: ExportRequest, metadata: dict[str, Any]) -> grpc.StatusCode | None:
        points = flatten(request)
        with self._cond:
            self._metadata.append(metadata)
            self._generation += 1
            code = self._failure
            if code is not None:
                self._rejected += 1
                if self._fail_remaining is not None:
                    self._fail_remaining -= 1
                    if self._fail_remaining <= 0:
                        self._failure, self._fail_remaining = None, None
            else:
                self._requests.append(request)
                self._points.extend(points)
            self._cond.notify_all()
        return code

    # -- what arrived ------------------------------------------------------------------

    @property
    def requests(self) -> list[ExportRequest]:
        """A copy of the accepted requests, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def rejected(self) -> int:
        """How many requests were answered with an injected error status."""
        with self._cond:
            return self._rejected

    @property
    def metadata(self) -> list[dict[str, Any]]:
        """A copy of the gRPC metadata (headers) of every call, rejected ones included."""
        with self._cond:
            return list(self._metadata)

    def clear(self) -> None:
        """Forget everything received so far (requests, points, metadata, rejected count)."""
        with self._cond:
            self._requests.clear()
            self._points.clear()
            self._metadata.clear()
            self._rejected = 0

    def points(self, name: str | None = None) -> list[Point]:
        """Every accepted data point, in arrival order; only metric ``name``'s if given."""
        with self._cond:
            points = list(self._points)
        return points if name is None else [p for p in points if p.name == name]

    def metric_names(self) -> set[str]:
        """The names of all metrics received."""
        return {p.name for p in self.points()}

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float) -> bool:
        """Poll ``predicate(self)`` until it holds or ``timeout`` seconds pass; its last value.

        The predicate runs again as soon as a request arrives, and at least every
        :data:`POLL_INTERVAL` seconds otherwise.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._generation
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bool(predicate(self))
            with self._cond:
                if self._generation == seen:
                    self._cond.wait(min(POLL_INTERVAL, remaining))

    def wait_for_points(self, name: str, timeout: float, count: int = 1) -> list[Point]:
        """Wait until at least ``count`` points of metric ``name`` arrived; those points
        (fewer, possibly none, on timeout — so the result also works as a bool)."""
        self.wait_for(lambda r: len(r.points(name)) >= count, timeout)
        return self.points(name)

    # -- names used by the older tests/harness.py-based tests --------------------------

    def snapshot(self) -> list[ExportRequest]:
        """Same as :attr:`requests`."""
        return self.requests

    def names(self) -> set[str]:
        """Same as :meth:`metric_names`."""
        return self.metric_names()

    def cycles(self, names: Iterable[str] = ("system.uptime", "adk_system_uptime_seconds")
               ) -> list[int]:
        """Distinct timestamps of the points of ``names`` (one per agent collection cycle),
        in arrival order."""
        wanted = set(names)
        seen: dict[int, None] = {}
        for p in self.points():
            if p.name in wanted:
                seen[p.time_unix_nano] = None
        return list(seen)
