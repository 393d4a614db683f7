"""Forgetting the series a cycle did not observe, on the SDK's own MeterProvider (the agent's
use of it: tests/unit/test_pipeline.py)."""

from __future__ import annotations

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent.series import Forgetter


def test_only_the_observed_series_are_kept() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    forget = Forgetter(provider, reader)
    live: list[dict[str, str]] = []

    def callback(_options: CallbackOptions) -> list[Observation]:
        forget(instrument, [(1, a) for a in live])
        return [Observation(1, a) for a in live]

    instrument = provider.get_meter("t").create_observable_gauge("g", callbacks=[callback])
    storage = provider._measurement_consumer._reader_storages[reader]  # type: ignore[attr-defined]
    for n in range(3000):  # more than the SDK's 2000-series limit
        live[:] = [{"container.id": f"c{n}"}, {"container.id": "kept"}]
        data = reader.get_metrics_data()
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert sorted(p.attributes["container.id"] for p in metric.data.data_points) == [
        "c2999", "kept"]
    (match,) = storage._instrument_view_instrument_matches[instrument]
    assert len(match._attributes_aggregation) == 3  # and the one gone since the last cycle
    provider.shutdown()


def test_a_storage_of_another_shape_turns_it_off() -> None:
    forget = Forgetter(object(), object())
    forget(object(), [])  # nothing to do, and no error
    assert forget._storage is None
