"""adk-agent against the Python peer and the floor: whole-process CPU per export cycle,
resident memory, points per cycle and time to the first export, all three exporting over
OTLP/gRPC every second to the same local receiver, at the same time.

    python bench/compare.py [--seconds 60]     # `make bench` runs this and bench/cycle.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import Receiver, wait_until  # noqa: E402

PROCESSES = ("adk-agent", "peer", "floor")


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of the process, in nanoseconds from the scheduler
    (/proc/<pid>/task/*/schedstat), not the 10 ms ticks of /proc/<pid>/stat."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total / 1e9


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def service(request: Any) -> str:
    for kv in request.resource_metrics[0].resource.attributes:
        if kv.key == "service.name":
            return str(kv.value.string_value)
    return ""


def points(request: Any) -> int:
    return sum(len(getattr(m, m.WhichOneof("data")).data_points)
               for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)


class Bench:
    def __init__(self, receiver: Receiver, workdir: Path) -> None:
        self.receiver = receiver
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.first: dict[str, float] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
        full.update(env, BENCH_ENDPOINT=f"http://{self.receiver.endpoint}")
        self.started[name] = time.monotonic()
        self.procs[name] = subprocess.Popen(argv, env=full, stderr=subprocess.DEVNULL,
                                            start_new_session=True)

    def cycles(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for req in self.receiver.snapshot():
            counts[service(req)] = counts.get(service(req), 0) + 1
        return counts

    def watch_first(self) -> None:
        now = time.monotonic()
        for name, n in self.cycles().items():
            if n and name not in self.first and name in self.started:
                self.first[name] = now - self.started[name]

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def shape_of(receiver: Receiver, name: str) -> list[dict[str, Any]]:
    """The last exported batch of a process, as the floor's constants."""
    from tests.harness import _attrs

    last = [r for r in receiver.snapshot() if service(r) == name][-1]
    out = []
    for rm in last.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                data = getattr(m, kind)
                label = "sum_monotonic" if kind == "sum" and data.is_monotonic else kind
                out.append({"name": m.name, "unit": m.unit, "kind": label, "points": [
                    {"attributes": _attrs(dp.attributes),
                     "value": dp.as_double if dp.WhichOneof("value") == "as_double"
                     else dp.as_int} for dp in data.data_points]})
    return out


def run(seconds: float, workdir: Path) -> dict[str, Any]:
    receiver = Receiver().start()
    bench = Bench(receiver, workdir)
    try:
        bench.start("adk-agent", [sys.executable, "-m", "agent", "run"],
                    {"ADK_AGENT_INTERVAL": "1s", "ADK_AGENT_HEALTH_ADDRESS": "",
                     "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}"})
        bench.start("peer", [sys.executable, str(ROOT / "bench" / "peer_agent.py")], {})
        assert wait_until(lambda: (bench.watch_first(), bench.cycles().get("adk-agent", 0) >= 3)[1],
                          30), "adk-agent exported nothing"
        shape = workdir / "shape.json"
        shape.write_text(json.dumps(shape_of(receiver, "adk-agent")))
        bench.start("floor", [sys.executable, str(ROOT / "bench" / "floor_agent.py")],
                    {"BENCH_SHAPE": str(shape)})
        # warm-up: every process past start-up and a few cycles in
        assert wait_until(lambda: (bench.watch_first(),
                                   all(bench.cycles().get(n, 0) >= 5 for n in PROCESSES))[1], 60)
        cpu0 = {n: cpu_seconds(p.pid) for n, p in bench.procs.items()}
        n0 = bench.cycles()
        time.sleep(seconds)  # the measured window
        cpu1 = {n: cpu_seconds(p.pid) for n, p in bench.procs.items()}
        n1 = bench.cycles()
        last = {n: points([r for r in receiver.snapshot() if service(r) == n][-1])
                for n in PROCESSES}
        result: dict[str, Any] = {}
        for n in PROCESSES:
            cycles = n1[n] - n0[n]
            rss, hwm = rss_mb(bench.procs[n].pid)
            result[n] = {"cpu_ms_per_cycle": round((cpu1[n] - cpu0[n]) / cycles * 1000, 2),
                         "cycles": cycles, "points_per_cycle": last[n],
                         "rss_mb": round(rss, 1), "peak_rss_mb": round(hwm, 1),
                         "first_export_s": round(bench.first.get(n, float("nan")), 2)}
    finally:
        bench.stop()
        receiver.stop()
    adk = result["adk-agent"]["cpu_ms_per_cycle"]
    result["ratios"] = {"adk/peer": round(adk / result["peer"]["cpu_ms_per_cycle"], 2),
                        "adk/floor": round(adk / result["floor"]["cpu_ms_per_cycle"], 2)}
    result["machine"] = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                         "python": platform.python_version(), "kernel": platform.release(),
                         "seconds": seconds}
    return result


def table(r: dict[str, Any]) -> str:
    rows = ["| process | CPU ms/cycle | points/cycle | RSS MB (peak) | first export s |",
            "|---|---|---|---|---|"]
    for n in PROCESSES:
        x = r[n]
        rows.append(f"| {n} | {x['cpu_ms_per_cycle']} | {x['points_per_cycle']} | "
                    f"{x['rss_mb']} ({x['peak_rss_mb']}) | {x['first_export_s']} |")
    rows.append(f"\nadk/peer CPU {r['ratios']['adk/peer']} (target <= 0.35), adk/floor CPU "
                f"{r['ratios']['adk/floor']} (target <= 1.3)")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "compare.json")
    a = p.parse_args()
    a.json.parent.mkdir(parents=True, exist_ok=True)
    r = run(a.seconds, a.json.parent)
    a.json.write_text(json.dumps(r, indent=1))
    print(table(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
