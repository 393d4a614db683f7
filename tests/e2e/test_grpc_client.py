"""agent.grpc_client, the gRPC client without grpcio, against real gRPC servers: the grpcio
in-test receiver here, Rotel (tonic) in test_e2e. What the network and the server do comes
back as a status, never as an exception."""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint

from agent.export.grpc_client import Channel, Reply
from agent.export.transport import EXPORT_PATH
from tests.cycles import drained, exporter, push
from tests.otlp_receiver import Receiver, free_port


def request(points: int = 1, name: str = "test.gauge") -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.CopyFrom(Metric(name=name, unit="1"))
    metric.gauge.data_points.extend(
        NumberDataPoint(as_int=i, time_unix_nano=1_000_000_000 + i) for i in range(points))
    return req


def call(channel: Channel, req: ExportMetricsServiceRequest | None = None,
         metadata: tuple[tuple[str, str], ...] = (), timeout: float = 5.0) -> Reply:
    return channel.call(EXPORT_PATH, (req or request()).SerializeToString(), metadata, timeout)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_a_call_arrives_intact_with_its_metadata(receiver: Receiver, compression: str) -> None:
    channel = Channel(f"http://{receiver.endpoint}", None, compression)
    reply = call(channel, request(3), (("X-Tenant", "acme"),))
    assert (reply.status, reply.message) == ("OK", "")
    assert [p.value for p in receiver.points("test.gauge")] == [0, 1, 2]
    assert receiver.metadata[-1]["x-tenant"] == "acme"
    channel.close()


def test_one_connection_serves_every_call(receiver: Receiver) -> None:
    channel = Channel(receiver.endpoint, None)
    assert call(channel).ok
    first = channel._sock
    for _ in range(5):
        assert call(channel).ok
    assert channel._sock is first and len(receiver.requests) == 6


def test_one_connection_even_on_a_descriptor_past_1024(receiver: Receiver) -> None:
    # A node's held cgroup files push the agent's socket past 1,024, where select() fails:
    # the connection must still be reused, not remade for every call.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard}: cannot open 1,100 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        channel = Channel(receiver.endpoint, None)
        assert call(channel).ok
        first = channel._sock
        assert first is not None and first.fileno() >= 1024
        for _ in range(3):
            assert call(channel).ok
        assert channel._sock is first and len(receiver.requests) == 4
        channel.close()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_request_larger_than_the_flow_control_window(receiver: Receiver) -> None:
    big = request(20_000)  # ~300 KB, over HTTP/2's initial 64 KB window
    assert big.ByteSize() > 200_000
    assert call(Channel(receiver.endpoint, None), big).ok
    assert len(receiver.points("test.gauge")) == 20_000


@pytest.mark.parametrize(("code", "message"), [
    (grpc.StatusCode.UNAVAILABLE, "injected failure: UNAVAILABLE"),
    (grpc.StatusCode.INVALID_ARGUMENT, "injected failure: INVALID_ARGUMENT"),
    (grpc.StatusCode.UNAUTHENTICATED, "injected failure: UNAUTHENTICATED"),
])
def test_the_status_and_message_of_a_refusal(receiver: Receiver, code: grpc.StatusCode,
                                             message: str) -> None:
    receiver.fail_with(code, times=1)
    channel = Channel(receiver.endpoint, None)
    reply = call(channel)
    assert (reply.status, reply.message) == (code.name, message)
    assert call(channel).ok  # the connection is still good


def test_a_server_that_restarted_while_idle_is_reconnected_at_once(receiver: Receiver) -> None:
    channel = Channel(receiver.endpoint, None)
    assert call(channel).ok
    receiver.stop()  # the kept-open connection dies
    receiver.start()
    assert call(channel).ok  # no failed attempt: the dead connection is noticed first
    assert len(receiver.requests) == 2


def test_nobody_listening_is_unavailable() -> None:
    channel = Channel(f"http://127.0.0.1:{free_port()}", None)
    reply = call(channel)
    assert reply.status == "UNAVAILABLE" and "refused" in reply.message.lower()


def test_a_silent_server_is_a_deadline_exceeded(silent_server: int) -> None:
    channel = Channel(f"127.0.0.1:{silent_server}", None)
    started = time.monotonic()
    reply = call(channel, timeout=0.3)
    assert reply.status == "DEADLINE_EXCEEDED"
    assert time.monotonic() - started < 3  # bounded by the timeout, whatever the server does


def test_close_from_another_thread_ends_a_call_in_progress(silent_server: int) -> None:
    channel = Channel(f"127.0.0.1:{silent_server}", None)
    replies = []
    caller = threading.Thread(target=lambda: replies.append(call(channel, timeout=60)))
    caller.start()
    deadline = time.monotonic() + 10
    while channel._sock is None and time.monotonic() < deadline:  # connected and waiting
        time.sleep(0.01)
    channel.close()
    caller.join(10)
    assert not caller.is_alive() and replies[0].status == "UNAVAILABLE"
    assert call(channel).status == "UNAVAILABLE" and channel._sock is None  # stays closed


def test_a_server_that_is_not_grpc() -> None:
    """An HTTP/1.1 server (a proxy or the wrong port) gets a failed call, not an exception."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reply = call(Channel(f"127.0.0.1:{server.server_address[1]}", None), timeout=3)
        assert not reply.ok and reply.status in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    finally:
        server.shutdown()
        server.server_close()


def test_a_partial_success_is_logged_and_not_retried(receiver: Receiver,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    receiver.partial = (2, "points too old")
    with exporter(f"http://{receiver.endpoint}") as exp, \
            caplog.at_level(logging.WARNING, logger="agent.export"):
        push(exp, range(1))
        assert drained(exp)
    assert "rejected 2 points of a batch: points too old" in caplog.text
    assert len(receiver.requests) == 1 and exp.status.points == 20


def test_header_values_stay_out_of_every_log(receiver: Receiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert call(Channel(receiver.endpoint, None), metadata=(("api-key", "s3cr3t"),)).ok
    assert "s3cr3t" not in caplog.text
