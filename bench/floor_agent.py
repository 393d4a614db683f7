"""The floor: the OpenTelemetry SDK exporting, as constants, exactly the points adk-agent
exports (same names, instrument kinds, units and attribute sets, read from a JSON shape the
benchmark captured from adk-agent's own export). What is left above it is the agent's work."""

import json
import os
import threading

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

with open(os.environ["BENCH_SHAPE"]) as f:
    shape = json.load(f)
reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=os.environ["BENCH_ENDPOINT"], insecure=True),
    export_interval_millis=1000)
provider = MeterProvider(metric_readers=[reader],
                         resource=Resource.create({"service.name": "floor"}))
meter = provider.get_meter("floor")
make = {"sum_monotonic": meter.create_observable_counter,
        "sum": meter.create_observable_up_down_counter,
        "gauge": meter.create_observable_gauge}
for m in shape:
    points = [Observation(p["value"], p["attributes"]) for p in m["points"]]
    make[m["kind"]](m["name"], callbacks=[lambda _o, points=points: points], unit=m["unit"])
threading.Event().wait()
