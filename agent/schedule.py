"""When the periodic cycles run: after the first export at start-up (agent/runner.py), every
interval at a phase of its own within the interval, derived from the agent's identity.

A fleet restarted at once (a cluster upgrade, a power event) would otherwise push in lockstep,
every node in the same second of every interval. As Prometheus offsets each target's scrapes by
a hash of the target, the phase here is a hash of `service.instance.id` (itself derived from
host.id, the pod and the service name), counted from the Unix epoch: the same agent keeps the
same second of the minute across restarts, and a fleet's agents spread evenly over the
interval whenever they started. After the first periodic cycle the period is fixed: each cycle
is due one interval after the previous one was due (the SDK's own reader sleeps a whole
interval after each collection, so its cycles drift later by the collection's duration).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from opentelemetry.sdk.metrics import MetricsTimeoutError
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

log = logging.getLogger("agent")


def phase(identity: str, interval: float) -> float:
    """Seconds into the interval (0 <= phase < interval), uniform over identities."""
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


def first_delay(phase: float, interval: float, now: float, min_gap: float) -> float:
    """Seconds from `now` (Unix time) to the next moment `phase` seconds into an interval
    counted from the epoch, at least `min_gap` away (whole intervals later if need be)."""
    delay = (phase - now) % interval
    while delay < min_gap:
        delay += interval
    return delay


def next_due(due: float, interval: float, now: float) -> float:
    """The slot after `due` on the fixed schedule; slots that have already passed by `now` (a
    cycle that overran) are skipped, not run back to back."""
    due += interval
    if now >= due:
        due += (math.floor((now - due) / interval) + 1) * interval
    return due


class PhasedReader(PeriodicExportingMetricReader):
    """The SDK's periodic reader, its first periodic collection `first_delay` seconds from now
    and every `export_interval_millis` after that on a fixed schedule."""

    def __init__(self, exporter: MetricExporter, export_interval_millis: float,
                 export_timeout_millis: float, first_delay: float) -> None:
        # Set before the base class starts the collection thread, which reads it.
        self._due = time.monotonic() + first_delay
        super().__init__(exporter, export_interval_millis=export_interval_millis,
                         export_timeout_millis=export_timeout_millis)

    def _ticker(self) -> None:
        interval = self._export_interval_millis / 1e3
        while not self._shutdown_event.wait(max(0.0, self._due - time.monotonic())):
            try:
                self.collect(timeout_millis=self._export_timeout_millis)
            except MetricsTimeoutError:
                log.warning("metric collection timed out; trying again at the next cycle")
            self._due = next_due(self._due, interval, time.monotonic())
        # one last collection and export before shutting down, as the SDK's reader does
        try:
            self.collect(timeout_millis=self._export_interval_millis)
        except MetricsTimeoutError:
            log.warning("final metric collection timed out")
