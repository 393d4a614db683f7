"""The outbox: bounded, oldest dropped first, mirrored on disk and read back after a restart."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import ResourceMetrics

from agent.export.outbox import Outbox


def _request(n: int) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = ResourceMetrics()
    rm.schema_url = f"batch-{n}"
    req.resource_metrics.append(rm)
    return req


def test_outbox_drops_oldest_when_full(tmp_path: Path) -> None:
    box = Outbox(3, tmp_path)
    for n in range(5):
        box.put(_request(n))
    assert len(box) == 3 and box.dropped == 2
    assert box.dropped_points == 0  # these batches hold no data points
    assert len(list(tmp_path.glob("*.otlp"))) == 3
    again = Outbox(3, tmp_path)  # a restart reads them back, oldest first
    order = []
    while (head := again.head()) is not None:
        order.append(head[1].resource_metrics[0].schema_url)
        again.pop(head[0])
    assert order == ["batch-2", "batch-3", "batch-4"]
    assert not list(tmp_path.glob("*.otlp"))


def test_outbox_skips_truncated_files(tmp_path: Path) -> None:
    box = Outbox(10, tmp_path)
    box.put(_request(1))
    box.put(_request(2))
    first = sorted(tmp_path.glob("*.otlp"))[0]
    first.write_bytes(first.read_bytes()[:-3])
    again = Outbox(10, tmp_path)
    assert len(again) == 1 and again.head()[1].resource_metrics[0].schema_url == "batch-2"
    assert list(tmp_path.glob("*.corrupt"))


