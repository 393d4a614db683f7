"""Series per metric: at most ADK_AGENT_MAX_SERIES, and the ones that stop are forgotten.

The cap (`Cap`): in a cycle, the first ADK_AGENT_MAX_SERIES - 1 attribute sets a metric's
observer yields keep their own series (the specification's "prefer the first-observed
attributes in the callback"); the rest are folded into one series with the single attribute
`otel.metric.overflow=true` - summed for counters and up-down counters, the last value for
gauges, as the SDK's own overflow aggregator does - so a metric never exports more than
ADK_AGENT_MAX_SERIES points. One warning per metric.

Forgetting (`Forget`): the SDK keeps an aggregator for every attribute set an observable
instrument ever reported. It exports nothing for a set that was not observed, but never drops
the aggregator: memory grows with every pid, container or interface that came and went, and
from SDK 1.45 each one counts against its cardinality limit (2,000 by default) until every new
series lands in the overflow series for good. So after each collection, for each metric whose
observer succeeded, the aggregators that produced no point are removed: that attribute set is
gone from the host. A metric whose observer failed keeps its aggregators, so a transient read
error does not restart its series (a new start time, and under delta temporality a first point
holding the whole total). A series that continues keeps its aggregator, its start time and its
cumulative value.

There is no public API to drop an attribute set, so this reaches into the SDK's storage (the
names below, unchanged since SDK 1.x's first releases). The other ways were weighed: the
cardinality limit alone bounds memory but never frees a slot; a View filters attribute keys,
not sets; the SDK resets storage on delta collection only for synchronous instruments; our own
aggregation (a MetricProducer) would replace the SDK's aggregation and temporality wholesale.
Where the internals are not found, forgetting is off with one warning, and the SDK's limit
(`sdk_limits`: twice ADK_AGENT_MAX_SERIES plus one, never reached while forgetting works) still
bounds memory. tests/unit/test_cardinality.py holds this to the installed SDK.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.metrics import ObservableCounter, ObservableGauge, ObservableUpDownCounter
from opentelemetry.sdk.metrics.export import MetricsData, PeriodicExportingMetricReader

from agent.sources.base import Attributes, Kind, Metric, Obs

log = logging.getLogger("agent")
OVERFLOW: Attributes = {"otel.metric.overflow": True}


class Cap:
    def __init__(self, max_series: int) -> None:
        self.max = max_series
        self.warned: set[str] = set()

    def __call__(self, metric: Metric, out: list[Obs]) -> list[Obs]:
        if len(out) <= self.max:
            return out
        if metric.name not in self.warned:
            self.warned.add(metric.name)
            log.warning("%s has %d series, more than ADK_AGENT_MAX_SERIES=%d: the rest are "
                        "folded into one series with otel.metric.overflow=true (narrow it with "
                        "the include/exclude filters)", metric.name, len(out), self.max,
                        extra={"subject": metric.name})
        keep = self.max - 1
        rest = out[keep:]
        value = rest[-1][0] if metric.kind is Kind.GAUGE else sum(v for v, _ in rest)
        return [*out[:keep], (value, OVERFLOW)]


def sdk_limits(max_series: int) -> dict[str, Any]:
    """The reader's cardinality limits where the SDK has them (1.45 and later): a cycle holds
    the last cycle's sets and this one's, at most ADK_AGENT_MAX_SERIES each."""
    if "cardinality_limits" not in inspect.signature(
            PeriodicExportingMetricReader.__init__).parameters:
        return {}
    limit = 2 * max_series + 1
    return {"cardinality_limits": {ObservableCounter: limit, ObservableUpDownCounter: limit,
                                   ObservableGauge: limit}}


class Forget:
    """Drops the SDK's aggregators of attribute sets the last collection did not observe."""

    def __init__(self, provider: Any, reader: Any) -> None:
        try:
            storage = provider._measurement_consumer._reader_storages[reader]
            storage._instrument_view_instrument_matches  # noqa: B018 - probes the layout
        except (AttributeError, KeyError, TypeError):
            storage = None
            log.warning("this OpenTelemetry SDK version's storage is not the one known here: "
                        "series that stop (exited processes, removed interfaces) are kept, and "
                        "memory grows with them; pin opentelemetry-sdk to a tested version")
        self._storage = storage

    def __call__(self, exported: MetricsData | None, failed: Iterable[str]) -> int:
        """How many aggregators were dropped; none of the metrics in `failed`."""
        storage = self._storage
        if storage is None or exported is None:
            return 0
        points = {m.name: m.data.data_points for rm in exported.resource_metrics
                  for sm in rm.scope_metrics for m in sm.metrics}
        skip = set(failed)
        dropped = 0
        with storage._lock:
            matches = list(storage._instrument_view_instrument_matches.items())
        for instrument, views in matches:
            if instrument.name in skip:
                continue
            exported_points = points.get(instrument.name, ())
            for view in views:
                table = view._attributes_aggregation
                if len(table) == len(exported_points):  # every aggregator made a point
                    continue
                alive = {id(dp.attributes) for dp in exported_points}
                with view._lock:
                    stale = [k for k, agg in table.items() if id(agg._attributes) not in alive]
                    for key in stale:
                        del table[key]
                dropped += len(stale)
        return dropped
