"""What the benchmark's exporting children (peer.py, floor.py) share: an SDK MeterProvider that
exports over OTLP/gRPC every second, kept running until SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import threading

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


def every_second(endpoint: str, resource: Resource) -> MeterProvider:
    """Every second, or every BENCH_INTERVAL_MS (bench/instructions.py, under valgrind)."""
    interval = float(os.environ.get("BENCH_INTERVAL_MS", "1000"))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True),
                                           export_interval_millis=interval)
    return MeterProvider(metric_readers=[reader], resource=resource)


def run_until_signalled(provider: MeterProvider) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    provider.shutdown()
    return 0
