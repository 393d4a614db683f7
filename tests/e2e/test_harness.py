"""The test harness itself: the OTLP Receiver and the Rotel collector, driven by the real
OpenTelemetry SDK and its OTLP exporters (gRPC and HTTP/protobuf)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpExporter,
)
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tests.collector import Rotel
from tests.otlp_receiver import Point, Receiver

RESOURCE = {"service.name": "harness-test", "host.name": "node-1"}


def _exporter(protocol: str, rotel: Rotel) -> MetricExporter:
    # A short timeout: the SDK's gRPC exporter gives up at once when its backoff (>= 0.8 s)
    # would overrun it, instead of retrying for the default 10 s.
    if protocol == "grpc":
        return GrpcExporter(endpoint=rotel.grpc_endpoint, insecure=True, timeout=0.5)
    return HttpExporter(endpoint=rotel.http_metrics_url, timeout=2)


@contextmanager
def sdk(exporter: MetricExporter, interval_ms: int = 200) -> Iterator[MeterProvider]:
    """A MeterProvider exporting every ``interval_ms`` through ``exporter``."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(RESOURCE))
    try:
        yield provider
    finally:
        provider.shutdown(timeout_millis=2000)


def _bytes(_: CallbackOptions) -> Iterable[Observation]:
    yield Observation(1234, {"device": "eth0", "direction": "receive"})
    yield Observation(99, {"device": "eth0", "direction": "transmit"})


def _temperature(_: CallbackOptions) -> Iterable[Observation]:
    yield Observation(21.5, {"sensor": "cpu0", "ok": True})


def _instruments(provider: MeterProvider) -> None:
    meter = provider.get_meter("harness")
    meter.create_observable_counter("test.network.io", [_bytes], unit="By")
    meter.create_observable_gauge("test.temperature", [_temperature], unit="Cel")
    histogram = meter.create_histogram("test.latency", unit="s")
    histogram.record(0.1, {"op": "read"})
    histogram.record(0.3, {"op": "read"})


def _one(points: list[Point], **attributes: object) -> Point:
    matching = [p for p in points if p.attributes == attributes]
    assert matching, f"no point with {attributes} in {points}"
    return matching[-1]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_metrics_arrive_through_rotel(protocol: str, receiver: Receiver,
                                          rotel: Rotel) -> None:
    with sdk(_exporter(protocol, rotel)) as provider:
        _instruments(provider)
        assert provider.force_flush(5000)
        expected = {"test.network.io", "test.temperature", "test.latency"}
        assert receiver.wait_for(lambda r: expected <= r.metric_names(), 5), rotel.log_text()

    io = receiver.points("test.network.io")
    rx = _one(io, device="eth0", direction="receive")
    assert (rx.kind, rx.unit, rx.value, rx.monotonic, rx.temporality) == ("sum", "By", 1234,
                                                                         True, 2)
    assert isinstance(rx.value, int)
    assert _one(io, device="eth0", direction="transmit").value == 99
    assert 0 < rx.start_time_unix_nano <= rx.time_unix_nano
    assert rx.resource["service.name"] == "harness-test"
    assert rx.resource["host.name"] == "node-1"
    assert rx.resource["telemetry.sdk.language"] == "python"

    temp = _one(receiver.points("test.temperature"), sensor="cpu0", ok=True)
    assert (temp.kind, temp.unit, temp.value, temp.monotonic, temp.temporality) == (
        "gauge", "Cel", 21.5, None, None)
    assert temp.resource == rx.resource

    latency = _one(receiver.points("test.latency"), op="read")
    assert (latency.kind, latency.unit, latency.value) == ("histogram", "s", 2)

    assert receiver.rejected == 0
    assert len(receiver.requests) >= 1


def test_periodic_export_keeps_arriving(receiver: Receiver, rotel: Rotel) -> None:
    with sdk(_exporter("grpc", rotel), interval_ms=100) as provider:
        _instruments(provider)
        # three distinct collection times, without any flush: the 100 ms timer drives it
        assert receiver.wait_for(
            lambda r: len({p.time_unix_nano for p in r.points("test.temperature")}) >= 3, 5)


def test_unavailable_fails_exports_until_recovered(receiver: Receiver) -> None:
    """Straight to the Receiver: the SDK sees the injected status."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(RESOURCE))
    provider.get_meter("harness").create_observable_gauge("test.temperature", [_temperature])
    exporter = GrpcExporter(endpoint=f"http://{receiver.endpoint}", insecure=True, timeout=0.5)
    try:
        receiver.fail_with(grpc.StatusCode.UNAVAILABLE)
        data = reader.get_metrics_data()
        assert data is not None
        assert exporter.export(data) is MetricExportResult.FAILURE
        assert exporter.export(data) is MetricExportResult.FAILURE
        assert receiver.rejected >= 2
        assert receiver.requests == [] and receiver.points() == []
        assert len(receiver.metadata) == receiver.rejected  # rejected calls are seen too

        receiver.recover()
        assert exporter.export(data) is MetricExportResult.SUCCESS
        assert [p.value for p in receiver.points("test.temperature")] == [21.5]
    finally:
        exporter.shutdown()
        provider.shutdown()


def test_fail_with_times_then_accepts(receiver: Receiver) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("harness").create_observable_gauge("test.temperature", [_temperature])
    exporter = GrpcExporter(endpoint=f"http://{receiver.endpoint}", insecure=True, timeout=0.5)
    try:
        data = reader.get_metrics_data()
        assert data is not None
        receiver.fail_with(grpc.StatusCode.INVALID_ARGUMENT, times=1)  # not retryable
        assert exporter.export(data) is MetricExportResult.FAILURE
        assert exporter.export(data) is MetricExportResult.SUCCESS
        assert receiver.rejected == 1 and len(receiver.requests) == 1
        receiver.clear()
        assert (receiver.rejected, receiver.requests, receiver.points()) == (0, [], [])
    finally:
        exporter.shutdown()
        provider.shutdown()


def test_rotel_retries_while_downstream_unavailable(receiver: Receiver, rotel: Rotel) -> None:
    """Rotel accepts the export, then retries the rejected batch until the Receiver recovers."""
    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)
    with sdk(_exporter("grpc", rotel), interval_ms=60_000) as provider:
        _instruments(provider)
        assert provider.force_flush(5000)
        assert receiver.wait_for(lambda r: r.rejected >= 2, 5), rotel.log_text()
        assert receiver.points() == []
        receiver.recover()
        assert receiver.wait_for_points("test.temperature", 5), rotel.log_text()
    assert "Exporting failed, will retry" in rotel.log_text()


def test_collector_can_start_after_its_ports_are_handed_out(receiver: Receiver) -> None:
    collector = Rotel(receiver)
    ports = (collector.grpc_port, collector.http_port)
    assert collector.grpc_endpoint == f"http://127.0.0.1:{ports[0]}"
    assert collector.http_endpoint == f"http://127.0.0.1:{ports[1]}"
    assert not collector.running
    try:
        with sdk(_exporter("http", collector)) as provider:
            _instruments(provider)
            collector.start()
            assert receiver.wait_for_points("test.temperature", 5), collector.log_text()
            collector.restart()
            assert (collector.grpc_port, collector.http_port) == ports
            receiver.clear()
            assert receiver.wait_for_points("test.temperature", 5), collector.log_text()
    finally:
        collector.stop()
    assert not collector.running
    assert "Starting Rotel" in collector.log_text()


def test_blackhole_collector_accepts_and_drops(receiver: Receiver) -> None:
    with Rotel() as collector, sdk(_exporter("grpc", collector)) as provider:
        assert collector.downstream is None
        _instruments(provider)
        assert provider.force_flush(5000)
    assert receiver.requests == []


def test_a_collector_that_cannot_start_says_why() -> None:
    collector = Rotel(extra_args=["--otlp-exporter-compression", "bogus"])
    with pytest.raises(RuntimeError, match="bogus"):
        collector.start()
    assert not collector.running


def test_receiver_restarts_on_its_port_and_wait_for_times_out() -> None:
    receiver = Receiver()
    port = receiver.port
    with receiver:
        pass
    with receiver:
        assert receiver.port == port and receiver.endpoint == f"127.0.0.1:{port}"
        began = time.monotonic()
        assert not receiver.wait_for(lambda r: r.requests != [], 0.2)
        assert time.monotonic() - began < 1
        assert receiver.wait_for_points("nothing", 0.05) == []
