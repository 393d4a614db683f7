"""The agent's request is, byte for byte, what the OpenTelemetry SDK's metrics pipeline and
encoder make of the same observations — but for the start of each sum, where its count began
(which the SDK cannot know), and it costs a fraction of it."""

from __future__ import annotations

import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from agent.export.encoding import Encoder
from agent.export.series import Point
from agent.host.procfs import CLK_TCK
from agent.pipeline import Agent
from agent.sources.base import Kind, Metric, Obs, Start
from tests.unit.rig import config

RESOURCE = {"service.name": "t", "host.name": "h", "telemetry.sdk.language": "python"}
SCOPE = ("adk-agent", "1.0")


def through_the_sdk(metrics: list[Metric], observed: dict[str, list[Obs]]) -> object:
    """The SDK's request for these observations: observable instruments, its reader, its
    encoder."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource(RESOURCE))
    meter = provider.get_meter(*SCOPE)
    make = {Kind.COUNTER: meter.create_observable_counter,
            Kind.UPDOWN: meter.create_observable_up_down_counter,
            Kind.GAUGE: meter.create_observable_gauge}
    for m in metrics:
        def callback(_o: CallbackOptions, name: str = m.name) -> list[Observation]:
            return [Observation(v, a) for v, a in observed[name]]
        make[m.kind](m.name, callbacks=[callback], unit=m.unit, description=m.description)
    return encode_metrics(reader.get_metrics_data())


def test_same_bytes_as_the_sdk_but_the_starts() -> None:
    agent = Agent(config("/", metric_schema="both", per_cpu=True))
    metrics = [b.metric for b in agent.bound]
    encoder = Encoder(RESOURCE, SCOPE)
    for _ in range(3):
        observed = {k: v or [] for k, v in agent.collect().items()}
        now = time.time_ns()
        ours = ExportMetricsServiceRequest.FromString(
            encoder.encode(agent.series.points(observed, now), now))
        sdk = through_the_sdk(metrics, observed)
        starts = {}
        for m in ours.resource_metrics[0].scope_metrics[0].metrics:
            for p in getattr(m, m.WhichOneof("data")).data_points:
                starts[(m.name, tuple((a.key, str(a.value)) for a in p.attributes))] = \
                    p.start_time_unix_nano
        for m in sdk.resource_metrics[0].scope_metrics[0].metrics:  # type: ignore[attr-defined]
            for p in getattr(m, m.WhichOneof("data")).data_points:
                p.time_unix_nano = now
                if m.WhichOneof("data") == "sum":
                    p.start_time_unix_nano = starts[
                        (m.name, tuple((a.key, str(a.value)) for a in p.attributes))]
        assert encoder.encode(agent.series.points(observed, now), now) == \
            sdk.SerializeToString(deterministic=True)  # type: ignore[attr-defined]
    assert encoder.points > 100  # the queue and the sender take the count from here


def test_each_sum_starts_where_its_count_began() -> None:
    agent = Agent(config("/", metric_schema="both"))
    # read here independently of the agent: btime, and this process's start ticks after it
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                 if line.startswith("btime "))
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    began = {Start.BOOT: btime * 10**9, Start.AGENT: agent.started_ns,
             Start.PROCESS: btime * 10**9 + ticks * 10**9 // CLK_TCK}
    clocks = set()
    for metric, points in agent.points():
        for p in points:
            if metric.kind is Kind.GAUGE:
                assert p.start == 0
            else:
                clocks.add(metric.start)
                assert abs(p.start - began[metric.start]) <= 10**9 // CLK_TCK, metric.name
    assert clocks == set(Start)


def test_values_that_do_not_fit_lose_only_themselves(caplog: object) -> None:
    metric = Metric("m", Kind.COUNTER, "By", "")
    encoder = Encoder(RESOURCE, SCOPE)
    big, fine = {"d": "big"}, {"d": "fine"}
    request = ExportMetricsServiceRequest.FromString(encoder.encode(
        [(metric, [Point(2**64 - 1, big, 1), Point(5, fine, 1),
                   Point(float("nan"), {"d": "nan"}, 1)])], 2))
    (m,) = request.resource_metrics[0].scope_metrics[0].metrics
    values = {p.attributes[0].value.string_value: (p.WhichOneof("value"), p.as_int or p.as_double)
              for p in m.sum.data_points}
    assert values == {"big": ("as_double", float(2**64 - 1)), "fine": ("as_int", 5)}
    assert encoder.points == 2


def test_attribute_sets_of_vanished_series_are_forgotten() -> None:
    metric = Metric("g", Kind.GAUGE, "1", "")
    encoder = Encoder(RESOURCE, SCOPE)
    for n in range(200):  # a new series every cycle, the old one gone
        encoder.encode([(metric, [Point(1, {"pid": str(n)})])], n)
    assert len(encoder._attrs) < 100
