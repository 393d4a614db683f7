"""The health document: the agent's state plus the current figures, which each source gives
from what the last collection read (Source.figures). Nothing here reads /proc or calls psutil:
any number of probes costs no extra reads."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from agent import __version__

if TYPE_CHECKING:
    from agent.pipeline import Agent


def finite(value: Any) -> Any:
    """The document with NaN and infinities (a /proc/loadavg gone wrong) as null, since JSON
    has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def document(agent: Agent, alive: bool, ready: bool, reason: str) -> dict[str, Any]:
    st = agent.exporter.status if agent.exporter is not None else None
    s = agent.config
    return {
        "status": "ok" if alive and ready else ("starting" if (alive and st is None)
                                                or (alive and not st.exports) else "degraded"),
        "reason": reason or None,
        "agent_version": __version__,
        "service_version": s.service_version,
        "git_commit": s.git_commit,
        "uptime_seconds": round(time.monotonic() - agent.started, 1),
        "interval_seconds": s.interval,
        "last_collection_age_seconds": (None if agent.last_collect is None
                                        else round(time.monotonic() - agent.last_collect, 2)),
        "last_export": None if st is None or st.last_time is None else {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.last_time)),
            "ok": st.last_ok, "error": st.last_error, "duration_seconds": _r(st.last_duration, 3)},
        "exports": 0 if st is None else st.exports,
        "export_failures": 0 if st is None else st.failures,
        "points_exported": 0 if st is None else st.points,
        "batches_rejected": 0 if st is None else st.rejected,
        "points_rejected": 0 if st is None else st.rejected_points,
        "queue": None if agent.exporter is None else {
            "batches": len(agent.exporter.outbox), "dropped": agent.exporter.outbox.dropped,
            "max_batches": s.queue_max_batches, "bytes": agent.exporter.outbox.bytes,
            "max_bytes": s.queue_max_bytes},
        "source_errors": dict(agent.telemetry.errors),
        "failing_sources": sorted(k for k, v in agent.telemetry.failing.items() if v),
        "figures": agent.figures(),
    }
