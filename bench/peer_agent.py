"""The Python peer, opentelemetry-instrumentation-system-metrics, with its default
configuration, exporting over OTLP/gRPC every second (the benchmark's second process)."""

import os
import threading

from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=os.environ["BENCH_ENDPOINT"], insecure=True),
    export_interval_millis=1000)
metrics.set_meter_provider(MeterProvider(
    metric_readers=[reader], resource=Resource.create({"service.name": "peer"})))
SystemMetricsInstrumentor().instrument()
threading.Event().wait()
