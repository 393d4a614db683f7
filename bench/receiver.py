"""A minimal OTLP/gRPC metrics receiver for the benchmark: per request it keeps only the arrival
time (time.monotonic), the sender's service.name, the number of points and the message's size,
plus the last whole request of each sender (the floor copies adk-agent's from it). Loopback
only. `WireCounter` is a TCP relay in front of it that counts the bytes each way (what a sender
puts on the network: HTTP/2 frames, headers, compressed messages)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # time.monotonic() when the request arrived
    service: str
    points: int
    probe: Any = None  # what on_arrival returned (the sender's CPU time at that moment)
    size: int = 0  # the request message's bytes, uncompressed (protobuf)


def service_name(request: Any) -> str:
    for rm in request.resource_metrics:
        for kv in rm.resource.attributes:
            if kv.key == "service.name":
                return str(kv.value.string_value)
    return ""


def count_points(request: Any) -> int:
    return sum(len(getattr(m, m.WhichOneof("data")).data_points)
               for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
               if m.WhichOneof("data"))


class Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    """on_arrival(service.name) runs before the reply, while the sender waits for it."""

    def __init__(self, on_arrival: Callable[[str], Any] | None = None) -> None:
        self.on_arrival = on_arrival
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.endpoint = f"127.0.0.1:{s.getsockname()[1]}"
        self.arrivals: list[Arrival] = []
        self.last: dict[str, Any] = {}  # service.name -> its last request
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self.server)
        self.server.add_insecure_port(self.endpoint)

    def Export(self, request: Any, context: Any) -> Any:
        now = time.monotonic()
        service = service_name(request)
        probe = self.on_arrival(service) if self.on_arrival else None
        arrival = Arrival(now, service, count_points(request), probe, request.ByteSize())
        with self.lock:
            self.arrivals.append(arrival)
            self.last[arrival.service] = request
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def start(self) -> Receiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(0)

    def of(self, service: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.service == service]


class WireCounter:
    """A loopback TCP relay to `upstream` that counts the bytes each way, over all the
    connections made to it (`endpoint`)."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.endpoint = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.sent = 0  # sender -> receiver
        self.received = 0  # receiver -> sender
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="wire-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open += [client, server]
            for src, dst, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, up), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    if up:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.sent, self.received

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        with self.lock:
            for s in self.open:
                s.close()
