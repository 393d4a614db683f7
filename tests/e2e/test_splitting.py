"""A batch larger than the collector takes (gRPC RESOURCE_EXHAUSTED for the message size, HTTP
413) is split and its halves sent in its place, down to single points; only a point too large
alone is dropped, with one error line, and counted (otelcol_exporter_send_failed_metric_points
with error.permanent=true, points_rejected in /health). Checked on both gRPC clients against
grpcio's receiver with a small max_receive_message_length, and over HTTP against a 413."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from agent.export.outbox import Outbox
from agent.export.splitting import count_points, halves
from agent.telemetry import Reporter, Telemetry
from tests.cycles import count, cycle, drained, exactly_once, exporter, push
from tests.otlp_receiver import Point, Receiver, flatten

LIMIT = 16 * 1024  # bytes the receiver takes in one message
SHAPE = {"metrics": 4, "points": 150, "pad": 60}  # ~55 KB a batch


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def encoded(n: int = 0, **shape: int) -> ExportMetricsServiceRequest:
    return cycle(n, **shape)


def two_resources() -> ExportMetricsServiceRequest:
    req = encoded(1, metrics=3, points=4)
    other = encoded(2, metrics=2, points=5)
    other.resource_metrics[0].resource.attributes[0].value.string_value = "other"
    req.resource_metrics.extend(other.resource_metrics)
    return req


def test_halves_by_metrics_keep_resource_scope_and_order() -> None:
    req = two_resources()
    first, second = halves(req)  # type: ignore[misc]
    assert [len(r.resource_metrics) for r in (first, second)] == [1, 2]
    assert flatten(first) + flatten(second) == flatten(req)
    assert second.resource_metrics[0].scope_metrics[0].scope.name == "tests.cycles"


def test_halves_of_one_metric_by_points_and_down_to_one_point() -> None:
    req = encoded(1, metrics=1, points=5)
    first, second = halves(req)  # type: ignore[misc]
    assert (count_points(first), count_points(second)) == (2, 3)
    assert flatten(first) + flatten(second) == flatten(req)
    pending, singles = [req], []
    while pending:
        parts = halves(pending.pop())
        if parts is None:
            continue
        for part in parts:
            (singles if count_points(part) == 1 else pending).append(part)
    assert sorted(p.attributes["i"] for s in singles for p in flatten(s)) == list(range(5))
    assert halves(encoded(1, metrics=1, points=1)) is None
    assert halves(ExportMetricsServiceRequest()) is None


def test_outbox_split_keeps_sending_order_on_disk(tmp_path: Path) -> None:
    box = Outbox(10, tmp_path)
    for n in range(3):
        box.put(encoded(n, metrics=2, points=2).SerializeToString(), 4)
    head = box.head()
    assert head is not None
    a, b = halves(ExportMetricsServiceRequest.FromString(head[1]))  # type: ignore[misc]
    box.split(head[0], [(a.SerializeToString(), count_points(a)),
                        (b.SerializeToString(), count_points(b))])
    head = box.head()
    assert head is not None and ExportMetricsServiceRequest.FromString(head[1]) == a
    a0, a1 = halves(a)  # type: ignore[misc]
    box.split(head[0], [(a0.SerializeToString(), 1), (a1.SerializeToString(), 1)])
    box.pop(box.head()[0])  # type: ignore[index]  # a0 delivered
    box.close()
    reloaded = Outbox(10, tmp_path)  # a restart: the rest, in the same order
    order = []
    while (item := reloaded.head()) is not None:
        order.append(ExportMetricsServiceRequest.FromString(item[1]))
        reloaded.pop(item[0])
    assert order == [a1, b, encoded(1, metrics=2, points=2), encoded(2, metrics=2, points=2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adkq.lock"]


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_batches_over_the_limit_arrive_whole_in_parts(client: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    options = (("grpc.max_receive_message_length", LIMIT),)
    with Receiver(options=options) as small, exporter(
            f"http://{small.endpoint}", grpc_client=client) as exp, caplog.at_level(
            logging.WARNING, logger="agent.export"):
        push(exp, range(2), **SHAPE)
        assert drained(exp), exp.status
        points = small.points()
        status = exp.status
    assert exactly_once(points, range(2), SHAPE["metrics"], SHAPE["points"]) == []
    assert status.failures > 0 and status.rejected == 0 and status.rejected_points == 0
    assert "larger than the collector takes" in caplog.text and "failed" not in caplog.text
    assert status.last_ok is True  # splitting is not an outage


def huge_point_cycle(n: int) -> ExportMetricsServiceRequest:
    return cycle(n, metrics=2, points=16, huge=(1, 7, 2 * LIMIT))  # one too large alone


@pytest.mark.parametrize("client", ["h2", "grpcio"])
def test_a_point_too_large_alone_is_dropped_once_and_counted(
        client: str, caplog: pytest.LogCaptureFixture) -> None:
    options = (("grpc.max_receive_message_length", LIMIT),)
    with Receiver(options=options) as small, exporter(f"http://{small.endpoint}",
                                                      grpc_client=client) as exp:
        with caplog.at_level(logging.WARNING, logger="agent.export"):
            request = huge_point_cycle(0)
            exp.export(request.SerializeToString(), count(request))
            push(exp, range(1, 3), metrics=2, points=16)
            assert drained(exp), exp.status
        points = small.points()
        reporter = Reporter(Telemetry(export=exp), [])
        failed = list(reporter.observers()["otelcol_exporter_send_failed_metric_points"]())
    assert _missing_only(points, (0, "test.cycle.1", 7)) and len(points) == 3 * 32 - 1
    assert exp.status.rejected_points == 1
    assert (1, {"error.permanent": True}) in failed
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "single point of test.cycle.1" in errors[0].getMessage()


def _missing_only(points: list[Point], gone: tuple[int, str, int]) -> bool:
    wrong = exactly_once(points, range(3), 2, 16)
    return wrong == [f"{gone} arrived 0 times"]


class LimitedHttp:
    """OTLP/HTTP that answers 413 to bodies over `limit` bytes, and records the rest."""

    def __init__(self, limit: int) -> None:
        owner = self
        self.points: list[Point] = []
        self.too_large = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if len(body) > limit:
                    owner.too_large += 1
                    self.send_response(413)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                owner.points += flatten(ExportMetricsServiceRequest.FromString(body))
                out = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def limited_http() -> Iterator[LimitedHttp]:
    server = LimitedHttp(LIMIT)
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_http_413_splits_too(limited_http: LimitedHttp) -> None:
    with exporter(limited_http.url, protocol="http/protobuf") as exp:
        push(exp, range(3), **SHAPE)
        assert drained(exp), exp.status
    assert limited_http.too_large > 0
    assert exactly_once(limited_http.points, range(3), SHAPE["metrics"], SHAPE["points"]) == []
