"""The three senders make one attempt per send and give the queue an exact verdict: the gRPC
status as the server sent it (grpcio's stub is called directly, without the SDK exporter's
retry loop), HTTP statuses with 413 as "too large", partial success logged on every path,
header names lower-cased on every path."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from agent.export.transport import (
    GrpcioSender,
    GrpcSender,
    HttpSender,
    Outcome,
    build_sender,
    grpc_outcome,
)
from agent.settings import load_config
from tests.cycles import exporter, push
from tests.e2e.test_grpc_client import request
from tests.harness import wait_until
from tests.otlp_receiver import Receiver, free_port

GRPC = {"h2": GrpcSender, "grpcio": GrpcioSender}


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def grpc_sender(client: str, endpoint: str, **settings: Any) -> GrpcSender | GrpcioSender:
    sender = build_sender(load_config(endpoint=endpoint, grpc_client=client,
                                      export_timeout="3s", **settings))
    assert isinstance(sender, GRPC[client])
    return sender


@pytest.mark.parametrize("client", ["h2", "grpcio"])
@pytest.mark.parametrize(("code", "retryable"), [
    (grpc.StatusCode.UNAVAILABLE, True), (grpc.StatusCode.INVALID_ARGUMENT, False),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, True), (grpc.StatusCode.UNAUTHENTICATED, True),
    (grpc.StatusCode.INTERNAL, False)])
def test_one_attempt_and_the_exact_status(receiver: Receiver, client: str,
                                          code: grpc.StatusCode, retryable: bool) -> None:
    receiver.fail_with(code)
    sender = grpc_sender(client, f"http://{receiver.endpoint}")
    outcome = sender.send(request(3).SerializeToString(), 3)
    sender.shutdown()
    assert outcome == Outcome(False, retryable, f"{code.name}: injected failure: {code.name}")
    assert receiver.rejected == 1  # no retry inside the send: the queue owns retries


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_upper_case_header_names_are_sent_lower_case(receiver: Receiver, client: str) -> None:
    config = load_config(endpoint=f"http://{receiver.endpoint}", grpc_client=client)
    sender = GRPC[client](config, {"X-Tenant": "acme"})  # as a headers file may have it
    assert sender.send(request(1).SerializeToString(), 1).ok
    sender.shutdown()
    assert receiver.metadata[-1]["x-tenant"] == "acme"


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_partial_success_is_reported_on_both_grpc_clients(receiver: Receiver,
                                                          client: str) -> None:
    receiver.partial = (2, "points too old")
    sender = grpc_sender(client, f"http://{receiver.endpoint}")
    outcome = sender.send(request(3).SerializeToString(), 3)
    sender.shutdown()
    assert outcome.ok
    assert outcome.partial == "2 points of a batch: points too old"


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_every_failed_attempt_is_seen_at_once(receiver: Receiver, client: str) -> None:
    """The health document counts attempts as they happen: no retries hidden in a send."""
    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)
    with exporter(f"http://{receiver.endpoint}", grpc_client=client) as exp:
        push(exp, range(1))
        assert wait_until(lambda: exp.status.failures >= 2, 20), exp.status
        attempts, failures = receiver.rejected, exp.status.failures
        assert failures <= attempts <= failures + 1  # one may be on its way
        receiver.recover()
        assert wait_until(lambda: len(exp.outbox) == 0, 20)


class OtlpHttp:
    """OTLP/HTTP answering with a chosen status (and, for 2xx, a chosen reply body)."""

    def __init__(self, status: int = 200, body: bytes = b"") -> None:
        owner = self
        self.status, self.body = status, body
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.paths.append(self.path)
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def otlp_http() -> Iterator[OtlpHttp]:
    server = OtlpHttp()
    yield server
    server.close()


def http_sender(endpoint: str) -> HttpSender:
    sender = build_sender(load_config(endpoint=endpoint, protocol="http/protobuf",
                                      export_timeout="3s"))
    assert isinstance(sender, HttpSender)
    return sender


@pytest.mark.parametrize(("status", "retryable", "too_large"), [
    (503, True, False), (429, True, False), (400, False, False), (413, False, True),
    (401, True, False)])
def test_http_one_attempt_and_its_verdict(otlp_http: OtlpHttp, status: int, retryable: bool,
                                          too_large: bool) -> None:
    otlp_http.status = status
    outcome = http_sender(otlp_http.url).send(request(2).SerializeToString(), 2)
    assert (outcome.ok, outcome.retryable, outcome.too_large) == (False, retryable, too_large)
    assert outcome.error is not None and outcome.error.startswith(f"HTTP {status}")
    assert len(otlp_http.paths) == 1  # the SDK's client would have tried 503 and 429 again


def test_http_partial_success_query_string_and_names(otlp_http: OtlpHttp) -> None:
    reply = ExportMetricsServiceResponse()
    reply.partial_success.rejected_data_points = 1
    reply.partial_success.error_message = "one too old"
    otlp_http.body = reply.SerializeToString()
    config = load_config(endpoint=f"{otlp_http.url}?tenant=acme", protocol="http/protobuf")
    sender = HttpSender(config, {"X-Tenant": "acme"})
    outcome = sender.send(request(2).SerializeToString(), 2)
    assert outcome.ok and outcome.partial == "1 points of a batch: one too old"
    assert otlp_http.paths == ["/v1/metrics?tenant=acme"]  # the path added, the query kept
    assert otlp_http.headers[0]["x-tenant"] == "acme"


def test_http_errors_name_the_cause_not_the_url() -> None:
    sender = http_sender(f"http://127.0.0.1:{free_port()}/v1/metrics?token=s3cr3t")
    outcome = sender.send(request(1).SerializeToString(), 1)
    assert not outcome.ok and outcome.retryable
    assert outcome.error is not None and "refused" in outcome.error.lower()
    assert "s3cr3t" not in outcome.error


@pytest.mark.parametrize(("status", "message", "too_large"), [
    ("RESOURCE_EXHAUSTED", "grpc: received message larger than max (5000000 vs. 4194304)", True),
    ("RESOURCE_EXHAUSTED", "Error, decoded message length too large: found 5000000 bytes, the "
     "limit is: 4194304 bytes", True),
    ("RESOURCE_EXHAUSTED", "gRPC message exceeds maximum size 4194304: 5000000", True),
    ("RESOURCE_EXHAUSTED", "tenant over its ingestion rate limit", False),
    ("UNKNOWN", "Received http2 header with status: 413", True),
    ("UNKNOWN", "HTTP 413 instead of a gRPC reply", True),
    ("UNKNOWN", "HTTP 502 instead of a gRPC reply", False),
    ("INVALID_ARGUMENT", "value too large for a gauge", False)])
def test_which_refusals_mean_too_large(status: str, message: str, too_large: bool) -> None:
    """grpc-go, tonic, grpc-java and proxies say "too large" in these words; a quota or rate
    limit (also RESOURCE_EXHAUSTED) must not be split, which would only multiply requests."""
    assert grpc_outcome(status, message).too_large is too_large
