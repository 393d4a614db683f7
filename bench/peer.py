"""The Python peer: opentelemetry-instrumentation-system-metrics with its default configuration,
exporting over OTLP/gRPC every second.

    python bench/peer.py http://127.0.0.1:PORT [service.name]

Only the resource's service.name is set (so the receiver can tell the senders apart); the
instrumentor runs with its defaults. Runs until terminated.
"""

from __future__ import annotations

import signal
import sys
import threading

from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


def main(argv: list[str]) -> int:
    endpoint = argv[1]
    name = argv[2] if len(argv) > 2 else "bench-peer"
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True),
                                           export_interval_millis=1000)
    provider = MeterProvider(metric_readers=[reader],
                             resource=Resource.create({"service.name": name}))
    metrics.set_meter_provider(provider)
    SystemMetricsInstrumentor().instrument()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
