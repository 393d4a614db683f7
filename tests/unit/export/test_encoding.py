"""The agent's cached encoder produces exactly what the SDK's encode_metrics produces, but for
the start times of sums: where each count began, which the SDK cannot know."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from agent.catalog import BY_NAME
from agent.export.encoding import Encoder, Starts, iso_ns
from agent.host.procfs import CLK_TCK
from agent.pipeline import Agent
from agent.settings import load_config
from agent.sources.base import Kind, Start


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


def test_the_same_but_each_sum_starts_where_its_count_began() -> None:
    agent = Agent(load_config(exporter="none", metric_schema="both"))
    reader = sdk_reading(agent)
    encoder = Encoder(agent.starts())
    # read here independently of the agent: btime, and this process's start ticks after it
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                 if line.startswith("btime "))
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    began = {Start.BOOT: btime * 10**9, Start.AGENT: agent.started_ns,
             Start.PROCESS: btime * 10**9 + ticks * 10**9 // CLK_TCK}
    for _ in range(3):
        agent.context.cycle.open()
        data = reader.get_metrics_data()
        ours, sdk = encoder.encode(data), encode_metrics(data)
        clocks = set()
        for m in sdk.resource_metrics[0].scope_metrics[0].metrics:
            if m.WhichOneof("data") == "sum":
                start = BY_NAME[m.name].start
                assert start is not None
                clocks.add(start)
                for pt in m.sum.data_points:
                    assert pt.start_time_unix_nano > began[start]  # the SDK's first collection
                    pt.start_time_unix_nano = began[start]
            else:
                assert all(pt.start_time_unix_nano == 0 for pt in m.gauge.data_points)
        assert clocks == set(Start)
        assert ours.SerializeToString(deterministic=True) == \
            sdk.SerializeToString(deterministic=True)


def counters(values: dict[str, list[tuple[int, dict[str, str]]]]
             ) -> tuple[InMemoryMetricReader, Iterator[None]]:
    """Observable counters named as `values`' keys, in delta temporality; each step of the
    returned iterator moves them to their next observations."""
    reader = InMemoryMetricReader(
        preferred_temporality={ObservableCounter: AggregationTemporality.DELTA})
    meter = MeterProvider(metric_readers=[reader]).get_meter("x")
    step = {"n": 0}

    def observe(name: str) -> Callable[[CallbackOptions], list[Observation]]:
        def callback(_o: CallbackOptions) -> list[Observation]:
            return [Observation(v + 10 * step["n"], a) for v, a in values[name]]
        return callback

    for name in values:
        meter.create_observable_counter(name, callbacks=[observe(name)])

    def steps() -> Iterator[None]:
        while True:
            yield
            step["n"] += 1
    return reader, steps()


def sums(request: object) -> dict[str, list[tuple[int, int, int]]]:
    """metric -> [(start, time, value)] of each point."""
    return {m.name: [(p.start_time_unix_nano, p.time_unix_nano, p.as_int)
                     for p in m.sum.data_points]
            for rm in request.resource_metrics for sm in rm.scope_metrics  # type: ignore[attr-defined]
            for m in sm.metrics}


def test_a_delta_series_never_sends_the_count_from_before_the_agent() -> None:
    since = 1_700_000_500 * 10**9
    later, earlier = "2023-11-14T22:30:00.000Z", "2023-11-14T22:00:00.000Z"
    reader, steps = counters({
        "host": [(426_000, {})],  # since boot, long before the agent
        "process": [(7, {"process.creation.time": later}),  # started after the agent
                    (9_000, {"process.creation.time": earlier})],
        "undeclared": [(5, {})]})
    encoder = Encoder(Starts(fixed={"host": 1_700_000_000 * 10**9},
                             attribute={"process": "process.creation.time"}, since=since))
    next(steps)
    first = sums(encoder.encode(reader.get_metrics_data()))
    assert "host" not in first  # not the since-boot total over a few milliseconds
    assert first["process"] == [(iso_ns(later), first["process"][0][1], 7)]
    assert [v for *_, v in first["undeclared"]] == [5]  # as the SDK has it
    assert encoder.points == 2
    next(steps)
    second = sums(encoder.encode(reader.get_metrics_data()))
    (host,) = second["host"]
    assert host[2] == 10 and host[0] == first["process"][0][1]  # one interval: t1 .. t2
    assert [(s, v) for s, _, v in second["process"]] == [(first["process"][0][1], 10)] * 2


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
    assert len(encoder._series) < 100
