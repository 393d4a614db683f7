"""The agent's cached encoder produces exactly what the SDK's encode_metrics produces."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from agent.export.encoding import Encoder
from agent.pipeline import Agent
from agent.settings import load_config
from agent.sources.base import Kind


def sdk_reading(agent: Agent) -> InMemoryMetricReader:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader],
                             resource=Resource({"service.name": "t", "host.name": "h"}))
    meter = provider.get_meter("adk-agent", "1.0")
    make = {Kind.COUNTER: meter.create_observable_counter,
            Kind.UPDOWN: meter.create_observable_up_down_counter,
            Kind.GAUGE: meter.create_observable_gauge}
    for b in agent.bound:
        make[b.metric.kind](b.metric.name, callbacks=[agent._callback(b)], unit=b.metric.unit,
                            description=b.metric.description)
    return reader


def test_same_bytes_as_the_sdk_cycle_after_cycle() -> None:
    agent = Agent(load_config(exporter="none", metric_schema="both", per_cpu=True))
    reader = sdk_reading(agent)
    encoder = Encoder()
    for _ in range(4):
        agent.context.cycle.open()
        data = reader.get_metrics_data()
        ours, sdk = encoder.encode(data), encode_metrics(data)
        assert ours == sdk
        assert ours.SerializeToString(deterministic=True) == \
            sdk.SerializeToString(deterministic=True)
    counted = sum(len(m.sum.data_points) + len(m.gauge.data_points)
                  for m in ours.resource_metrics[0].scope_metrics[0].metrics)
    assert counted > 100
    assert encoder.points == counted  # the queue and the sender take the count from here


def test_other_kinds_go_to_the_sdk_encoder() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("x")
    meter.create_histogram("h").record(3.0, {"a": "b"})
    data = reader.get_metrics_data()
    assert Encoder().encode(data) == encode_metrics(data)


def test_attribute_sets_of_vanished_series_are_forgotten() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("x")
    live: list[dict[str, str]] = []
    meter.create_observable_gauge("g", callbacks=[lambda _o: [Observation(1, a) for a in live]])
    encoder = Encoder()
    for n in range(200):  # a new series every cycle, the old one gone
        live[:] = [{"pid": str(n)}]
        encoder.encode(reader.get_metrics_data())
    assert len(encoder._attrs) < 100
