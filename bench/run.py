"""adk-agent against the Python peer and the floor, in one run on this machine.

Three processes export over OTLP/gRPC every second to one local receiver (bench/receiver.py) at
the same time, told apart by their resource's service.name:

  adk-agent  `adk-agent run --interval 1s --endpoint ...`, otherwise its default configuration
             (its health endpoint on a free loopback port instead of the fixed default one);
  peer       opentelemetry-instrumentation-system-metrics with its defaults (bench/peer.py);
  floor      the SDK exporting constants shaped exactly like adk-agent's points (bench/floor.py,
             shape captured from one of adk-agent's requests).

For each it reports whole-process CPU per export cycle: utime+stime from /proc/<pid>/stat (and
the nanosecond sum of /proc/<pid>/task/*/schedstat as a check), read by the receiver at the
moment the process's request arrives, between its first arrival after warm-up and its last one
before the window closes, divided by the requests in between; resident memory at the end
(VmRSS) and its peak (VmHWM); points per cycle; the time from process start to its first export
arriving. Then the ratios adk-agent/peer and adk-agent/floor. Printed as a table and written as
JSON (bench/results/latest.json).

Scenarios: `idle` measures the host as it is; `node` makes it look like a busy node while it
measures (bench/node.py: 1,000 open TCP sockets, 300 more processes); `both` runs one after
the other and prints a verdict per target (README: adk-agent at most 0.30x the peer's CPU on
the node, 0.45x idle, 1.0x the floor's, 33 MB resident).

    .venv/bin/python bench/run.py              # idle, 60 s measured (BENCH_SECONDS), ~70 s
    .venv/bin/python bench/run.py --quick      # 15 s measured
    .venv/bin/python bench/run.py --scenario both
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.cgroup_tree, for the node scenario

from entry import run_main  # noqa: E402
from floor import shape_of  # noqa: E402
from node import Shape, node, sleepers  # noqa: E402
from receiver import Arrival, Receiver  # noqa: E402

RESULTS = HERE / "results"
TICK = os.sysconf("SC_CLK_TCK")
PEER, FLOOR = "bench-peer", "bench-floor"
NAMES = ("adk-agent", "peer", "floor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_of(pid: int) -> tuple[float, float, dict[str, int]] | None:
    """(utime+stime seconds from /proc/<pid>/stat, seconds summed over the live threads'
    /proc/<pid>/task/*/schedstat, nanoseconds by live thread id). The first counts every
    thread the process ever had, in 1/SC_CLK_TCK steps; the second is exact to the nanosecond
    but forgets a thread once it exits, hence the ids: a window whose threads changed says so."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        tids = {}
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    tids[task] = int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
                pass
        return ticks / TICK, sum(tids.values()) / 1e9, tids
    except (FileNotFoundError, ProcessLookupError):
        return None


def memory_of(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out["VmRSS"], out["VmHWM"]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    service: str | None  # its service.name; adk-agent's is learnt from its first request
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    log: Path = field(default_factory=Path)

    def start(self, results: Path) -> None:
        self.log = results / f"{self.name}.log"
        with open(self.log, "wb") as out:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 5 s."""
        p = self.proc
        if p is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with suppress(ProcessLookupError):  # anything left in its group
            os.killpg(p.pid, signal.SIGKILL)


class Bench:
    def __init__(self, results: Path) -> None:
        self.results = results
        self.children: dict[str, Child] = {}
        self.by_service: dict[str, Child] = {}
        self.receiver = Receiver(on_arrival=self.probe)

    def probe(self, service: str) -> tuple[float, float, dict[str, int]] | None:
        child = self.by_service.get(service)
        if child is None and service not in (PEER, FLOOR):  # adk-agent's, whatever its name
            child = self.children.get("adk-agent")
            if child is not None and child.service is None:
                child.service = service
                self.by_service[service] = child
        return cpu_of(child.proc.pid) if child is not None and child.proc else None

    def spawn(self, name: str, argv: list[str], service: str | None,
              env: dict[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
        child = Child(name, argv, {**base, **(env or {})}, service)
        self.children[name] = child
        if service is not None:
            self.by_service[service] = child
        child.start(self.results)

    def arrivals(self, name: str) -> list[Arrival]:
        service = self.children[name].service
        return self.receiver.of(service) if service else []

    def wait(self, what: str, ready: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for child in self.children.values():
                child.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(0.05)

    def stop(self) -> None:
        for child in self.children.values():
            child.stop()
        self.receiver.stop()


def adk_agent_command() -> list[str]:
    exe = Path(sys.executable).parent / "adk-agent"
    found = str(exe) if exe.exists() else shutil.which("adk-agent")
    if not found:
        raise SystemExit("adk-agent is not installed (make venv)")
    return [found]


def thread_names(pid: int) -> dict[str, str]:
    """Python thread names by thread id, from `py-spy dump` where py-spy is installed (Python
    3.11 does not give its threads' names to the kernel); threads without a Python frame are
    the gRPC core's."""
    exe = Path(sys.executable).parent / "py-spy"
    spy = str(exe) if exe.exists() else shutil.which("py-spy")
    if not spy:
        return {}
    try:
        text = subprocess.run([spy, "dump", "--pid", str(pid), "--nonblocking"],
                              capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(re.findall(r'Thread (\d+) \([^)]*\): "([^"]+)"', text))


def by_thread(pid: int, first: dict[str, int], last: dict[str, int],
              cycles: int) -> dict[str, float]:
    names = thread_names(pid)
    out = {}
    for tid, ns in sorted(last.items(), key=lambda kv: first.get(kv[0], 0) - kv[1]):
        name = names.get(tid, "native" if names else "?")
        out[f"{tid} {name}"] = round((ns - first.get(tid, 0)) / cycles / 1e6, 3)
    return out


def figures(bench: Bench, name: str, begin: float, end: float) -> dict[str, Any]:
    """The process's figures over its requests that arrived between begin and end."""
    child = bench.children[name]
    assert child.proc is not None
    every = bench.arrivals(name)
    window = [a for a in every if begin <= a.at <= end and a.probe is not None]
    if len(window) < 2:
        raise RuntimeError(f"{name}: fewer than two requests in the measured window")
    first, last = window[0], window[-1]
    cycles = len(window) - 1  # the work between the first and the last arrival
    rss, hwm = memory_of(child.proc.pid)
    points = [a.points for a in window]
    return {
        "cpu_ms_per_cycle": round((last.probe[0] - first.probe[0]) / cycles * 1000, 2),
        "cpu_ms_per_cycle_schedstat": round((last.probe[1] - first.probe[1]) / cycles * 1000, 2),
        # /proc/<pid>/stat counts whole ticks: each end of the window is off by up to one
        "cpu_stat_resolution_ms_per_cycle": round(2000 / TICK / cycles, 2),
        "threads": len(last.probe[2]),
        "threads_changed_in_window": first.probe[2].keys() != last.probe[2].keys(),
        "ms_per_cycle_by_thread": by_thread(child.proc.pid, first.probe[2], last.probe[2],
                                            cycles),
        "cycles": cycles,
        "window_s": round(last.at - first.at, 2),
        "points_per_cycle": int(statistics.median(points)),
        "points_min_max": [min(points), max(points)],
        "rss_mb": round(rss, 1),
        "peak_rss_mb": round(hwm, 1),
        "first_export_s": round(every[0].at - child.started, 3),
    }


def run(seconds: float, warmup: int, results: Path,
        adk_env: dict[str, str] | None = None) -> dict[str, Any]:
    bench = Bench(results)
    bench.receiver.start()
    endpoint = f"http://{bench.receiver.endpoint}"
    here = [sys.executable]
    try:
        bench.spawn("adk-agent",
                    [*adk_agent_command(), "run", "--interval", "1s", "--endpoint", endpoint],
                    None, {"ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
                           **(adk_env or {})})
        bench.spawn("peer", [*here, str(HERE / "peer.py"), endpoint, PEER], PEER)
        bench.wait("adk-agent's first export", lambda: bench.arrivals("adk-agent"), 60)
        # the floor copies the shape of adk-agent's latest request
        bench.wait("adk-agent's second export", lambda: len(bench.arrivals("adk-agent")) >= 2, 30)
        service = bench.children["adk-agent"].service
        shape = shape_of(bench.receiver.last[service])
        shape_file = results / "shape.json"
        shape_file.write_text(json.dumps(shape))
        bench.spawn("floor", [*here, str(HERE / "floor.py"), endpoint, str(shape_file), FLOOR],
                    FLOOR)
        bench.wait(f"{warmup} exports from each process",
                   lambda: all(len(bench.arrivals(n)) >= warmup for n in NAMES), 60)
        begin = time.monotonic()
        end = begin + seconds
        print(f"warmed up; measuring for {seconds:g}s", file=sys.stderr, flush=True)
        bench.wait("the measured window", lambda: time.monotonic() >= end, seconds + 5)
        out = {name: figures(bench, name, begin, end) for name in NAMES}
    finally:
        bench.stop()
    out["ratios"] = ratios(out)
    out["machine"] = machine(seconds, warmup)
    return out


def scaling(seconds: float, warmup: int, results: Path,
            counts: tuple[int, ...] = (1, 10, 100)) -> list[dict[str, Any]]:
    """adk-agent alone, default configuration but for ADK_AGENT_PROCESSES naming 1, 10 and 100
    sleeping children (`pid:N` targets): whole-process CPU per cycle as the series grow."""
    out: list[dict[str, Any]] = []
    with sleepers(max(counts)) as pids:
        for n in counts:
            bench = Bench(results)
            bench.receiver.start()
            try:
                bench.spawn("adk-agent",
                            [*adk_agent_command(), "run", "--interval", "1s", "--endpoint",
                             f"http://{bench.receiver.endpoint}"],
                            None, {"ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
                                   "ADK_AGENT_PROCESSES": ",".join(f"pid:{p}" for p in pids[:n])})
                bench.wait(f"{warmup} exports", lambda b=bench: len(b.arrivals("adk-agent"))
                           >= warmup, 60)
                begin = time.monotonic()
                print(f"{n} process targets: measuring for {seconds:g}s", file=sys.stderr,
                      flush=True)
                bench.wait("the measured window", lambda b=begin: time.monotonic() >= b + seconds,
                           seconds + 5)
                row = figures(bench, "adk-agent", begin, begin + seconds)
            finally:
                bench.stop()
            out.append({"targets": n, **row})
    base = out[0]
    for row in out:
        row["us_per_point"] = round(row["cpu_ms_per_cycle_schedstat"] * 1000
                                    / row["points_per_cycle"], 1)
        added = row["points_per_cycle"] - base["points_per_cycle"]
        row["marginal_us_per_added_point"] = round(
            (row["cpu_ms_per_cycle_schedstat"] - base["cpu_ms_per_cycle_schedstat"]) * 1000
            / added, 1) if added else None
    return out


def scenario(name: str, shape: Shape, seconds: float, warmup: int, results: Path,
             adk_env: dict[str, str] | None = None) -> dict[str, Any]:
    """The three-way run on the host as it is (idle) or holding the node shape (node)."""
    if name == "idle":
        return run(seconds, warmup, results, adk_env)
    print(f"node-shaped host: {shape.describe()}", file=sys.stderr, flush=True)
    with node(shape) as held:
        env = dict(adk_env or {})
        if "root" in held:  # adk-agent reads the node's pods and containers (the peer cannot)
            env["ADK_AGENT_ROOT_PATH"] = held["root"]
        out = run(seconds, warmup, results, env)
    out["host"] = held
    return out


# The targets, as ratios measured in one run (CPU: the schedstat figure, whole process).
PEER_TARGET = {"node": 0.30, "idle": 0.45}
FLOOR_TARGET = 1.0
RSS_TARGET_MB = 33.0


def verdicts(scenarios: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, r in scenarios.items():
        cpu = "cpu_ms_per_cycle_schedstat"
        rows = [(f"CPU adk/peer <= {PEER_TARGET[name]}", r["ratios"][f"{cpu} adk/peer"],
                 PEER_TARGET[name]),
                (f"CPU adk/floor <= {FLOOR_TARGET}", r["ratios"][f"{cpu} adk/floor"],
                 FLOOR_TARGET),
                (f"adk-agent RSS MB <= {RSS_TARGET_MB:g}", r["adk-agent"]["rss_mb"],
                 RSS_TARGET_MB)]
        for target, value, limit in rows:
            out.append({"scenario": name, "target": target, "measured": value,
                        "met": bool(value <= limit)})
    return out


def ratios(r: dict[str, Any]) -> dict[str, float]:
    a, p, f = r["adk-agent"], r["peer"], r["floor"]
    out = {}
    for key in ("cpu_ms_per_cycle", "cpu_ms_per_cycle_schedstat", "rss_mb", "peak_rss_mb",
                "first_export_s"):
        out[f"{key} adk/peer"] = round(a[key] / p[key], 2) if p[key] else float("nan")
        out[f"{key} adk/floor"] = round(a[key] / f[key], 2) if f[key] else float("nan")
    return out


def machine(seconds: float, warmup: int) -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
            "loadavg_after": os.getloadavg()[0], "python": platform.python_version(),
            "kernel": platform.release(), "measured_seconds": seconds, "warmup_cycles": warmup,
            "versions": {d: version(d) for d in (
                "adk-agent", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-grpc",
                "opentelemetry-instrumentation-system-metrics", "psutil", "grpcio",
                "protobuf")}}


def verdict_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | measured | verdict |", "|---|---|---|---|"]
    for v in rows:
        lines.append(f"| {v['scenario']} | {v['target']} | {v['measured']} | "
                     f"{'met' if v['met'] else 'NOT MET'} |")
    return "\n".join(lines)


def table(r: dict[str, Any]) -> str:
    rows = [("CPU ms/cycle (/proc/pid/stat)", "cpu_ms_per_cycle"),
            ("CPU ms/cycle (schedstat, ns)", "cpu_ms_per_cycle_schedstat"),
            ("cycles measured", "cycles"),
            ("points/cycle", "points_per_cycle"),
            ("RSS MB (end)", "rss_mb"),
            ("peak RSS MB (VmHWM)", "peak_rss_mb"),
            ("first export s", "first_export_s")]
    lines = [f"| {'':<30}| {'adk-agent':>10} | {'peer':>10} | {'floor':>10} | "
             f"{'adk/peer':>8} | {'adk/floor':>9} |",
             f"|{'-' * 31}|{'-' * 12}|{'-' * 12}|{'-' * 12}|{'-' * 10}|{'-' * 11}|"]
    for label, key in rows:
        vals = [r[n][key] for n in NAMES]
        rp = r["ratios"].get(f"{key} adk/peer", "")
        rf = r["ratios"].get(f"{key} adk/floor", "")
        lines.append(f"| {label:<30}| {vals[0]:>10} | {vals[1]:>10} | {vals[2]:>10} | "
                     f"{rp!s:>8} | {rf!s:>9} |")
    resolution = r["adk-agent"]["cpu_stat_resolution_ms_per_cycle"]
    lines.append(f"(/proc/<pid>/stat: ±{resolution} ms/cycle over this window; schedstat: exact)")
    lines.append("CPU ms/cycle by thread (schedstat; 'native': the gRPC core's threads):")
    for n in NAMES:
        threads = r[n]["ms_per_cycle_by_thread"]
        top = [f"{k.partition(' ')[2]} {v}" for k, v in threads.items() if v >= 0.01]
        lines.append(f"  {n}: {', '.join(top)}")
    changed = [n for n in NAMES if r[n]["threads_changed_in_window"]]
    if changed:
        lines.append(f"threads started or ended during the window of {', '.join(changed)}: "
                     "its schedstat figure misses the ended ones; trust /proc/<pid>/stat there")
    return "\n".join(lines)


def scaling_table(rows: list[dict[str, Any]]) -> str:
    lines = ["adk-agent alone with N process targets (whole process, schedstat):",
             "| targets | points/cycle | CPU ms/cycle | µs/point | marginal µs/added point |",
             "|---------|--------------|--------------|----------|-------------------------|"]
    for row in rows:
        lines.append(f"| {row['targets']:>7} | {row['points_per_cycle']:>12} | "
                     f"{row['cpu_ms_per_cycle_schedstat']:>12} | {row['us_per_point']:>8} | "
                     f"{row['marginal_us_per_added_point'] or '':>23} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float,
                   default=float(os.environ.get("BENCH_SECONDS", "60")),
                   help="measured window (default 60, or BENCH_SECONDS)")
    p.add_argument("--quick", action="store_true", help="15 s measured, 3 warm-up cycles")
    p.add_argument("--warmup", type=int, default=5,
                   help="exports each process makes before the window opens (default 5)")
    p.add_argument("--scaling", action="store_true",
                   help="then adk-agent alone with 1, 10 and 100 process targets")
    p.add_argument("--scaling-seconds", type=float, default=20,
                   help="measured window of each scaling step (default 20; --quick: 8)")
    p.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--adk-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an extra variable for adk-agent (repeatable), e.g. "
                   "ADK_AGENT_GRPC_CLIENT=grpcio")
    p.add_argument("--scenario", choices=("idle", "node", "both"), default="idle",
                   help="the host as it is (idle, default), holding --sockets open TCP sockets "
                   "and --processes more processes (node), or one after the other (both)")
    p.add_argument("--sockets", type=int, default=1000,
                   help="node scenario: open TCP sockets, established loopback (default 1000)")
    p.add_argument("--processes", type=int, default=300,
                   help="node scenario: more processes, sleeping children (default 300)")
    p.add_argument("--containers", type=int, default=100,
                   help="node scenario: workload containers of a generated node that adk-agent "
                   "reads as its host root (default 100, 4 per pod; 0: none)")
    a = p.parse_args(argv)
    adk_env = dict(v.partition("=")[::2] for v in a.adk_env)
    seconds, warmup = (15.0, 3) if a.quick else (a.seconds, a.warmup)
    if seconds < 3:
        p.error("--seconds: at least 3")
    RESULTS.mkdir(parents=True, exist_ok=True)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    shape = Shape(a.sockets, a.processes, a.containers)
    names = ("idle", "node") if a.scenario == "both" else (a.scenario,)
    result: dict[str, Any] = {
        "scenarios": {n: scenario(n, shape, seconds, warmup, RESULTS, adk_env) for n in names}}
    result["verdicts"] = verdicts(result["scenarios"])
    if a.scaling:
        result["scaling"] = scaling(8.0 if a.quick else a.scaling_seconds, warmup, RESULTS)
    a.json.write_text(json.dumps(result, indent=1) + "\n")
    for n, r in result["scenarios"].items():
        host = "the host as it is" if n == "idle" else shape.describe()
        print(f"\n## {n}: {host}\n")
        print(table(r))
    if "scaling" in result:
        print("\n" + scaling_table(result["scaling"]))
    print("\n## targets (ratios from one run)\n")
    print(verdict_table(result["verdicts"]))
    print(f"\nwritten to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
