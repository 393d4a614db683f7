"""adk-agent's costs inside one process, no network:

  per source  CPU µs per collection cycle of each source's observers (default configuration),
              timed with time.thread_time around agent.observe(bound), a new collection
              cycle opened before each; then the whole in-process cycle: observers, series
              (agent/export/series.py), OTLP encoding and protobuf serialisation, beside what
              the OpenTelemetry SDK's metrics pipeline and encoder cost for the same points;
  scaling     the cycle with 1, 10 and 100 `pid:N` process targets (sleeping children this
              script spawns): the process source alone and the whole cycle, per series;
              and ranking the process table for top:cpu:N / top:memory:N with about 100,
              1,000 and 3,000 processes on the host (bench/ranking.py);
  sockets     counting TCP/UDP sockets by state: psutil.net_connections("inet") against
              agent.host.procfs.count_sockets("/proc/net") (and agent.host.sockdiag, which the
              agent uses on Linux), with no extra sockets and with --sockets extra loopback
              sockets open;
  containers  (--containers, on its own) a generated node of 100 and 200 containers as the
              host root (tests/cgroup_tree.host_root): whole cycles with and without the
              containers source, the difference per container (reads, the SDK's collection,
              encoding: its pod's share included), default metrics and all of them.

    .venv/bin/python bench/sources.py [--quick] [--profile] [--containers]

Printed, and written as JSON to bench/results/sources.json; --profile also writes a cProfile
of whole cycles to bench/results/profile.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
# The benchmark measures the default configuration, whatever this shell has set.
for _key in [k for k in os.environ if k.startswith(("ADK_AGENT_", "OTEL_"))]:
    del os.environ[_key]

from entry import run_main  # noqa: E402
from node import loopback_sockets, sleepers  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import (  # noqa: E402
    encode_metrics,
)
from opentelemetry.metrics import CallbackOptions, Observation  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from ranking import report as ranking_report  # noqa: E402
from ranking import scaling as ranking  # noqa: E402

from agent.catalog import BY_NAME, SOURCE_NAMES  # noqa: E402
from agent.config.plain import Config  # noqa: E402
from agent.export.encoding import Encoder  # noqa: E402
from agent.host import procfs, sockdiag, sockstat  # noqa: E402
from agent.pipeline import Agent  # noqa: E402
from agent.settings import load_config  # noqa: E402
from agent.sources.base import Kind  # noqa: E402
from tests import cgroup_tree  # noqa: E402

RESULTS = HERE / "results"
CPU = time.thread_time  # this thread's CPU time: the agent's callbacks run in the caller's thread


def config(**flags: Any) -> Config:
    # The default interval: what is read less often than every cycle (socket states when the
    # kernel's counters stand still, container limits) is read as often as in a real agent.
    # Each collection opens a new cycle, so every cycle reads afresh as a real one does.
    return load_config(exporter="none", health_address="", **flags)


# --- per source --------------------------------------------------------------------------------

def per_source(rounds: int) -> dict[str, float]:
    """µs of CPU per cycle for each source's observers. Reads shared by sources (/proc/stat,
    meminfo, vmstat) count for the first source that asks for them in a cycle."""
    agent = Agent(config())
    for _ in range(5):
        agent.collect()
    spent: dict[str, float] = {}
    for _ in range(rounds):
        agent.context.cycle.open()
        for bound in agent.bound:
            t = CPU()
            agent.observe(bound)
            spent[bound.metric.source] = spent.get(bound.metric.source, 0.0) + CPU() - t
    return {k: round(v / rounds * 1e6, 1) for k, v in spent.items()}


class Cycle:
    """An agent whose cycles are run by hand, as its collection thread runs them: the
    observers, the series (starts, cap, forgetting), the OTLP encoding into the request's
    bytes; and, for reference, what the OpenTelemetry SDK's metrics pipeline (observable
    instruments, its reader and encoder) costs for the very same observations."""

    def __init__(self, cfg: Config) -> None:
        self.agent = Agent(cfg)
        self.encoder = Encoder({"service.name": "bench"}, ("adk-agent", "bench"))
        self.observed: dict[str, list[Any]] = {}
        reader = InMemoryMetricReader()
        meter = MeterProvider(metric_readers=[reader]).get_meter("adk-agent", "bench")
        make = {Kind.COUNTER: meter.create_observable_counter,
                Kind.UPDOWN: meter.create_observable_up_down_counter,
                Kind.GAUGE: meter.create_observable_gauge}
        for b in self.agent.bound:
            def callback(_o: CallbackOptions, name: str = b.metric.name) -> list[Observation]:
                return [Observation(v, a) for v, a in self.observed.get(name) or ()]
            make[b.metric.kind](b.metric.name, callbacks=[callback], unit=b.metric.unit)
        self.sdk = reader

    def once(self, reference: bool = True) -> tuple[float, float, float, float, int]:
        """(observers, series, encode, SDK path) CPU seconds, and points, of one cycle;
        `reference`: also time the SDK's path (instruments, reader, encoder, serialisation)
        for the same observations."""
        t0 = CPU()
        observed = self.agent.collect()
        t1 = CPU()
        now = time.time_ns()
        points = self.agent.series.points(observed, now)
        t2 = CPU()
        self.encoder.encode(points, now)  # the bytes the sender sends
        t3 = CPU()
        if reference:
            self.observed = {k: v or [] for k, v in observed.items()}
            encode_metrics(self.sdk.get_metrics_data()).SerializeToString()
        t4 = CPU()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, self.encoder.points

    def run(self, rounds: int) -> dict[str, float]:
        for _ in range(3):
            self.once()
        total = [0.0] * 4
        points = 0
        for _ in range(rounds):
            *parts, points = self.once()
            total = [a + b for a, b in zip(total, parts, strict=True)]
        us = [x / rounds * 1e6 for x in total]
        ours = sum(us[:3])
        return {"points": points, "observers_us": round(us[0], 1),
                "series_us": round(us[1], 1), "encode_us": round(us[2], 1),
                "total_us": round(ours, 1), "us_per_point": round(ours / points, 2),
                "sdk_path_us": round(us[3], 1),  # the SDK's pipeline and encoder instead
                "sdk_path_us_per_point": round(us[3] / points, 2)}

    def stop(self) -> None:
        pass


def whole_cycle(rounds: int, **flags: Any) -> dict[str, float]:
    cycle = Cycle(config(**flags))
    try:
        return cycle.run(rounds)
    finally:
        cycle.stop()


# --- scaling -----------------------------------------------------------------------------------

def process_source(targets: str, rounds: int) -> dict[str, float]:
    """The process source alone: µs per cycle of its observers and the series they yield."""
    agent = Agent(config(processes=targets, sources="process"))
    agent.collect()
    series = 0
    t = CPU()
    for _ in range(rounds):
        agent.context.cycle.open()
        series = sum(len(agent.observe(b)) for b in agent.bound)
    us = (CPU() - t) / rounds * 1e6
    return {"series": series, "us": round(us, 1), "us_per_series": round(us / series, 2)}


def scaling(counts: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    out = []
    with sleepers(max(counts)) as pids:
        for n in counts:
            targets = ",".join(f"pid:{pid}" for pid in pids[:n])
            r = max(10, rounds // n)
            out.append({"targets": n, "process_source": process_source(targets, r * 3),
                        "whole_cycle": whole_cycle(r, processes=targets)})
    base = out[0]["whole_cycle"]
    for row in out[1:]:
        w = row["whole_cycle"]
        added = w["points"] - base["points"]
        row["whole_cycle"]["marginal_us_per_added_point"] = \
            round((w["total_us"] - base["total_us"]) / added, 2) if added else None
    return out


# --- socket counting ---------------------------------------------------------------------------

def timed(fn: Callable[[], dict[Any, int] | list[Any]], rounds: int) -> dict[str, float]:
    fn()
    c, w = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        result = fn()
    cpu = (time.process_time() - c) / rounds * 1000
    wall = (time.perf_counter() - w) / rounds * 1000
    seen = sum(result.values()) if isinstance(result, dict) else len(result)
    return {"cpu_ms": round(cpu, 3), "wall_ms": round(wall, 3), "sockets_seen": seen}


def socket_counting(extra: int, rounds: int) -> list[dict[str, Any]]:
    import psutil

    counter = sockdiag.SocketCounter()
    counters = sockstat.Counters("/proc/net")

    def totals() -> dict[str, int]:
        t = counters.read()
        return {"tcp": t.tcp[0] + t.tcp[1] + t.tcp[2], "udp": t.udp}

    out = []
    try:
        for n in (0, extra):
            with loopback_sockets(n) as opened:
                out.append({
                    "extra_sockets": opened,
                    "psutil.net_connections": timed(lambda: psutil.net_connections("inet"),
                                                    rounds),
                    "procfs.count_sockets": timed(lambda: procfs.count_sockets("/proc/net"),
                                                  rounds),
                    "sockdiag.SocketCounter": timed(counter.count, rounds),
                    # what the agent does: the counters every cycle, the TCP walk when they move
                    "sockstat.Counters": timed(totals, rounds * 10),
                    "sockdiag TCP walk": timed(lambda: counter.count(udp=False), rounds)})
    finally:
        counter.close()
        counters.close()
    return out


# --- pods and containers -----------------------------------------------------------------------

def containers(counts: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    """Per node size: whole cycles on the node as host root, without the containers source,
    with its default metrics, with all of them; µs and points added per container. A pod is
    four workload containers and a sandbox, so a container carries a quarter of a pod."""
    others = ",".join(n for n in SOURCE_NAMES if n != "containers")
    every = ",".join(n for n, m in BY_NAME.items() if m.source == "containers" and not m.enabled)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            root = Path(tmp) / f"node-{n}"
            node = cgroup_tree.host_root(root, pods=n // 4, per_pod=4)
            base = whole_cycle(rounds, root_path=str(root), sources=others)
            row: dict[str, Any] = {"containers": len(node.workloads), "pods": len(node.pods),
                                   "without": base}
            for label, flags in (("default", {}), ("all", {"metrics_enabled": every})):
                w = whole_cycle(rounds, root_path=str(root), **flags)
                added_us, added_points = w["total_us"] - base["total_us"], \
                    w["points"] - base["points"]
                row[label] = {**w, "added_us": round(added_us, 1), "added_points": added_points,
                              "us_per_container": round(added_us / n, 1),
                              "points_per_container": round(added_points / n, 2),
                              "us_per_added_point": round(added_us / added_points, 2)}
            out.append(row)
    return out


def containers_report(rows: list[dict[str, Any]]) -> str:
    lines = ["pods and containers (generated node as host root; whole in-process cycles):",
             "  containers pods | metrics | points added (per container) | µs added per cycle "
             "(per container, per point)"]
    for r in rows:
        for label in ("default", "all"):
            w = r[label]
            lines.append(f"  {r['containers']:>10} {r['pods']:>4} | {label:<7} | "
                         f"{w['added_points']:>6} ({w['points_per_container']:>5}) | "
                         f"{w['added_us']:>9.0f} ({w['us_per_container']:>6.1f}, "
                         f"{w['us_per_added_point']:>5.2f})")
    return "\n".join(lines)


# --- profile -----------------------------------------------------------------------------------

def profile(rounds: int, path: Path) -> str:
    cycle = Cycle(config())
    try:
        cycle.run(3)
        prof = cProfile.Profile(CPU)
        prof.enable()
        for _ in range(rounds):
            cycle.once(reference=False)
        prof.disable()
    finally:
        cycle.stop()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text).strip_dirs().sort_stats("tottime")
    text.write(f"cProfile of {rounds} whole in-process cycles (thread CPU time)\n")
    stats.print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    path.write_text(text.getvalue())
    return text.getvalue()


# --- main --------------------------------------------------------------------------------------

def report(r: dict[str, Any]) -> str:
    lines = ["CPU per cycle by source (µs, default configuration):"]
    for source, us in sorted(r["per_source_us"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {source:<11}{us:>8.1f}")
    lines.append(f"  {'all':<11}{sum(r['per_source_us'].values()):>8.1f}")
    w = r["whole_cycle"]
    lines.append(f"\nwhole in-process cycle, {w['points']} points: observers {w['observers_us']}"
                 f" + series {w['series_us']} + OTLP encode to bytes {w['encode_us']} = "
                 f"{w['total_us']} µs "
                 f"({w['us_per_point']} µs/point); the SDK's metrics pipeline and encoder for "
                 f"the same observations: {w['sdk_path_us']} µs "
                 f"({w['sdk_path_us_per_point']} µs/point)")
    lines.append("\nscaling with process targets (sleeping children):")
    lines.append("  targets | process source: series, µs, µs/series | whole cycle: points, µs, "
                 "µs/point, marginal µs per added point")
    for row in r["scaling"]:
        p, w = row["process_source"], row["whole_cycle"]
        lines.append(f"  {row['targets']:>7} | {p['series']:>6} {p['us']:>9.1f} "
                     f"{p['us_per_series']:>6.2f} | {w['points']:>6} {w['total_us']:>9.1f} "
                     f"{w['us_per_point']:>6.2f} {w.get('marginal_us_per_added_point') or '':>6}")
    lines.append("")
    lines += ranking_report(r["ranking"])
    lines.append("\ncounting sockets by state (ms per call, CPU / wall):")
    for row in r["sockets"]:
        parts = ", ".join(f"{k} {v['cpu_ms']}/{v['wall_ms']} ({v['sockets_seen']} seen)"
                          for k, v in row.items() if isinstance(v, dict))
        lines.append(f"  +{row['extra_sockets']} sockets: {parts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds")
    p.add_argument("--rounds", type=int, default=300, help="cycles per measurement")
    p.add_argument("--sockets", type=int, default=1000, help="extra loopback sockets to open")
    p.add_argument("--profile", action="store_true",
                   help="also cProfile whole cycles into bench/results/profile.txt")
    p.add_argument("--containers", action="store_true",
                   help="only the pods-and-containers figures (into results/containers.json)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    rounds = 60 if a.quick else a.rounds
    RESULTS.mkdir(parents=True, exist_ok=True)
    if a.containers:  # 30 to 100 ms a cycle at 200 containers: fewer rounds do
        rows = containers((100, 200), max(10, rounds // 5))
        path = a.json or RESULTS / "containers.json"
        path.write_text(json.dumps(rows, indent=1) + "\n")
        print(containers_report(rows) + f"\n\nwritten to {path}")
        return 0
    a.json = a.json or RESULTS / "sources.json"
    result = {"rounds": rounds, "per_source_us": per_source(rounds),
              "whole_cycle": whole_cycle(rounds),
              "scaling": scaling((1, 10, 100), rounds),
              "ranking": ranking((100, 1000, 3000), max(10, rounds // 6)),
              "sockets": socket_counting(a.sockets, max(5, rounds // 15))}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    if a.profile:
        text = profile(rounds, RESULTS / "profile.txt")
        print("\n" + "\n".join(text.splitlines()[:45]))
    print(f"\nwritten to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
