"""The health document: agent state plus the current figures, read from this cycle's memos.

Nothing here reads /proc or calls psutil: a probe sees what the last collection read, so any
number of probes costs no extra reads.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from agent import __version__

if TYPE_CHECKING:
    from agent.pipeline import Agent


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def figures(agent: Agent) -> dict[str, Any]:
    src = agent.sources
    out: dict[str, Any] = {}
    if (cpu := src.get("cpu")) is not None:
        util = cpu.memo.peek("utilization")
        total = util[0] if util else None
        idle = total.get("idle", 0.0) * 100 if total else None
        out["cpu"] = {"usage_percent": _r(None if idle is None else 100 - idle),
                      "idle_percent": _r(idle),
                      "count": cpu.known_logical_count()}
    if (proc := src.get("process")) is not None and "cpu" in out:
        own = proc.memo.peek("samples") or []
        if own:  # the first target: the agent itself by default
            out["cpu"]["process_user_seconds"] = own[0].user
            out["cpu"]["process_system_seconds"] = own[0].system
    if (mem_src := src.get("memory")) is not None:
        mem = mem_src.memo.peek("read")
        out["memory"] = None if mem is None else {
            "total_bytes": mem.total, "used_bytes": mem.psutil_used, "free_bytes": mem.free,
            "available_bytes": mem.available, "usage_percent": _r(mem.percent)}
    if (paging := src.get("paging")) is not None:
        swap = paging.memo.peek("swap")
        out["swap"] = None if swap is None else {
            "used_bytes": swap[0], "free_bytes": swap[1],
            "usage_percent": _r(swap[0] / (swap[0] + swap[1]) * 100 if sum(swap) else 0.0)}
    if (load := src.get("load")) is not None:
        avg = load.memo.peek("averages")
        out["load"] = None if avg is None else dict(zip(("1m", "5m", "15m"), avg, strict=True))
    if (net := src.get("network")) is not None:
        nics = net.memo.peek("interfaces")
        out["network"] = None if nics is None else {
            "bytes_sent": sum(c.tx_bytes for c in nics.values()),
            "bytes_recv": sum(c.rx_bytes for c in nics.values()),
            "packets_sent": sum(c.tx_packets for c in nics.values()),
            "packets_recv": sum(c.rx_packets for c in nics.values())}
    disk: dict[str, Any] = {}
    if (dsrc := src.get("disk")) is not None and (counters := dsrc.memo.peek("counters")):
        whole = [c for d, c in counters.items() if not dsrc.is_partition(d, counters)]
        disk["read_bytes"] = sum(c.read_bytes for c in whole)
        disk["write_bytes"] = sum(c.write_bytes for c in whole)
    if (fs := src.get("filesystem")) is not None and (usage := fs.memo.peek("usage")):
        disk["usage"] = {u.mountpoint: {
            "percent": _r(u.used / (u.used + u.free) * 100 if u.used + u.free else 0.0),
            "free_bytes": u.free} for u in usage}
    if disk:
        out["disk"] = disk
    if (proc := src.get("process")) is not None:
        samples = proc.memo.peek("samples") or []
        out["process"] = [{
            "pid": s.attrs["process.pid"], "name": s.attrs["process.executable.name"],
            "cpu_user_seconds": s.user, "cpu_system_seconds": s.system,
            "rss_bytes": s.rss, "vms_bytes": s.vms, "threads": s.threads, "open_fds": s.fds,
            "page_faults": None if s.faults is None else {"minor": s.faults[0],
                                                          "major": s.faults[1]},
        } for s in samples]
    return out


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
            "max_batches": s.queue_max_batches},
        "source_errors": dict(agent.faults.errors),
        "failing_sources": sorted(k for k, v in agent.faults.failing.items() if v),
        "figures": figures(agent),
    }
