"""Forgetting the series the host no longer has (a container that went, a process target that
exited), inside the OpenTelemetry SDK.

The SDK keeps an aggregation for every attribute set an observable instrument ever reported.
One that is no longer observed is not exported again, but stays in memory, and once an
instrument has seen 2000 of them (the SDK's cardinality limit) every new series is folded into
a single `otel.metric.overflow=true` point: on a node whose containers come and go (CronJobs,
CI runners), that takes days. So after each observation, the aggregations of attribute sets the
cycle did not observe are dropped. No public API does this: it reaches into the SDK's storage,
and should that change shape it turns itself off (the SDK's own behaviour returns).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

try:  # how the SDK keys its aggregations
    from opentelemetry.sdk.metrics._internal._view_instrument_match import (
        _hash_attributes as _key,
    )
except ImportError:  # older SDKs: a frozenset of the items
    def _key(attributes: Mapping[str, Any]) -> Any:  # type: ignore[misc]
        return frozenset(attributes.items())


class Forgetter:
    """`forget(instrument, observed)` after an instrument's callback: drops the SDK's
    aggregations of the attribute sets not in `observed`. Costs two dictionary look-ups while
    no series went; a set of the live keys when one did."""

    def __init__(self, provider: Any, reader: Any) -> None:
        try:
            self._storage: Any = provider._measurement_consumer._reader_storages[reader]
            self._storage._instrument_view_instrument_matches  # noqa: B018 - its shape, now
        except (AttributeError, KeyError, TypeError):
            log.debug("the SDK's metric storage has changed shape: series are not forgotten")
            self._storage = None

    def __call__(self, instrument: object, observed: Sequence[tuple[Any, Mapping[str, Any]]]
                 ) -> None:
        if self._storage is None:
            return
        try:
            for match in self._storage._instrument_view_instrument_matches.get(instrument, ()):
                if len(match._attributes_aggregation) > len(observed):
                    live = {_key(attrs) for _, attrs in observed}
                    with match._lock:
                        match._attributes_aggregation = {
                            k: v for k, v in match._attributes_aggregation.items() if k in live}
        except (AttributeError, TypeError) as exc:
            log.debug("series are not forgotten from now on: %s", exc)
            self._storage = None
