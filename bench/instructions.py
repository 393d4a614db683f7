"""Instructions per collection cycle of adk-agent, the peer and the floor, counted by valgrind.

CPU time on a shared VM moves by tens of percent within the hour (each thread wake-up is charged
differently from one hour to the next); the number of instructions a cycle executes does not.
valgrind's callgrind counts them (Ir) for the whole process, every thread. The three processes
of bench/run.py run under it side by side, exporting over OTLP/gRPC to a local receiver
(bench/receiver.py):

  adk-agent  `adk-agent run --interval I --endpoint ...`, otherwise its default configuration
  peer       opentelemetry-instrumentation-system-metrics, defaults (bench/peer.py)
  floor      the SDK exporting adk-agent's points as constants (bench/floor.py)

Start-up is left out as bench/run.py leaves it out: when a process's `--warmup`-th request
arrives, the receiver zeroes its counters (`callgrind_control --zero`) before it replies, while
the process waits for the reply; when its request `--cycles` later arrives, the receiver dumps
them (`callgrind_control --dump`). Per cycle = the instructions between the two / `--cycles`:
whole cycles, from one request to the next, idle threads' wake-ups included.

What this counts: user-space instructions. What it does not: the kernel's work in system calls
(writing /proc files, walking the socket table), which the CPU figures of bench/run.py include.
Under valgrind a process runs 50-100 times slower, hence a 3 s interval by default (a cycle of
the peer takes over a second there); run it on an otherwise idle machine all the same, so that
no cycle overruns. Takes about a minute.

    .venv/bin/python bench/instructions.py [--interval 3] [--warmup 3] [--cycles 5]
    .venv/bin/python bench/instructions.py --scenario node   # the node-shaped host

Needs valgrind (Debian/Ubuntu: apt-get install valgrind); without it, says so and exits 3
(0 with --if-available, as `make bench` runs it). Printed, and written as JSON to
bench/results/instructions.json (instructions-node.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.cgroup_tree, for the node scenario

from entry import run_main  # noqa: E402
from floor import shape_of  # noqa: E402
from node import Shape, node  # noqa: E402
from run import FLOOR, NAMES, PEER, RESULTS, Bench, free_port, machine  # noqa: E402

MISSING = 3


def tools() -> tuple[str, str] | None:
    vg, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    return (vg, control) if vg and control else None


def summary(path: Path) -> int:
    """The instructions counted in a callgrind dump (its `summary:` line)."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no summary line")


class Counting(Bench):
    """The bench's three children under callgrind; the receiver zeroes a child's counters at
    its `warmup`-th request and dumps them `cycles` requests later, before replying."""

    def __init__(self, results: Path, warmup: int, cycles: int, control: str) -> None:
        super().__init__(results)
        self.receiver.on_arrival = self.on_arrival
        self.warmup, self.cycles, self.control = warmup, cycles, control
        self.dumps: dict[str, Path] = {}
        self.errors: list[str] = []

    def on_arrival(self, service: str) -> None:
        self.probe(service)  # learns adk-agent's service.name from its first request
        child = self.by_service.get(service)
        if child is None or child.proc is None:
            return
        seen = len(self.arrivals(child.name)) + 1  # this one is recorded after the reply
        if seen == self.warmup:
            self.callgrind(child.proc.pid, "--zero")
        elif seen == self.warmup + self.cycles:
            before = set(self.results.glob(f"callgrind.{child.name}.out.*"))
            self.callgrind(child.proc.pid, "--dump")
            dumped = set(self.results.glob(f"callgrind.{child.name}.out.*")) - before
            if dumped:
                self.dumps[child.name] = dumped.pop()
            else:
                self.errors.append(f"{child.name}: callgrind wrote no dump")

    def callgrind(self, pid: int, action: str) -> None:
        done = subprocess.run([self.control, action, str(pid)], capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            self.errors.append(f"callgrind_control {action} {pid}: {done.stdout}{done.stderr}")


def measure(interval: float, warmup: int, cycles: int, results: Path,
            adk_env: dict[str, str] | None = None) -> dict[str, Any]:
    found = tools()
    assert found is not None
    valgrind, control = found
    for old in results.glob("callgrind.*.out*"):
        old.unlink()
    bench = Counting(results, warmup, cycles, control)
    bench.receiver.start()
    endpoint = f"http://{bench.receiver.endpoint}"
    env = {"PYTHONHASHSEED": "0", "BENCH_INTERVAL_MS": str(round(interval * 1000))}

    def under_valgrind(name: str) -> list[str]:
        # adk-agent re-executes itself once its settings are validated: follow it
        return [valgrind, "--tool=callgrind", f"--callgrind-out-file={results}/callgrind."
                f"{name}.out", f"--log-file={results}/valgrind.{name}.log",
                *(["--trace-children=yes"] if name == "adk-agent" else [])]

    try:
        bench.spawn("adk-agent",
                    [*under_valgrind("adk-agent"), sys.executable, "-m", "agent", "run",
                     "--interval", f"{interval:g}s", "--endpoint", endpoint],
                    None, {**env, "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
                           **(adk_env or {})})
        bench.spawn("peer", [*under_valgrind("peer"), sys.executable, str(HERE / "peer.py"),
                             endpoint, PEER], PEER, env)
        bench.wait("adk-agent's second export",
                   lambda: len(bench.arrivals("adk-agent")) >= 2, 600)
        shape = results / "shape.instructions.json"
        service = bench.children["adk-agent"].service
        shape.write_text(json.dumps(shape_of(bench.receiver.last[service])))
        bench.spawn("floor", [*under_valgrind("floor"), sys.executable, str(HERE / "floor.py"),
                              endpoint, str(shape), FLOOR], FLOOR, env)
        print(f"under valgrind: {warmup} exports each, then {cycles} counted ...",
              file=sys.stderr, flush=True)
        bench.wait(f"{warmup + cycles} exports of each",
                   lambda: len(bench.dumps) == len(NAMES) or bool(bench.errors),
                   600 + (warmup + cycles) * interval * 3)
        if bench.errors:
            raise RuntimeError("; ".join(bench.errors))
    finally:
        bench.stop()
    out: dict[str, Any] = {}
    for n in NAMES:
        total = summary(bench.dumps[n])
        out[n] = {"instructions": total, "cycles": cycles,
                  "instructions_per_cycle": round(total / cycles)}
    a, p, f = (out[n]["instructions_per_cycle"] for n in NAMES)
    out["ratios"] = {"adk/peer": round(a / p, 2), "adk/floor": round(a / f, 2)}
    out["interval_s"] = interval
    out["machine"] = machine(0, warmup)
    return out


def table(r: dict[str, Any]) -> str:
    per = [r[n]["instructions_per_cycle"] for n in NAMES]
    return "\n".join([
        f"user-space instructions per collection cycle, whole process, all threads (valgrind "
        f"callgrind; {r['interval_s']:g} s interval, {r['adk-agent']['cycles']} cycles, "
        f"{r.get('scenario', 'idle')} host):",
        "| | adk-agent | peer | floor | adk/peer | adk/floor |",
        "|---|---|---|---|---|---|",
        "| instructions per cycle (millions) | " + " | ".join(f"{v / 1e6:.2f}" for v in per)
        + f" | {r['ratios']['adk/peer']} | {r['ratios']['adk/floor']} |"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=3.0,
                   help="export interval in seconds of all three (default 3)")
    p.add_argument("--warmup", type=int, default=3,
                   help="exports before counting starts (default 3)")
    p.add_argument("--cycles", type=int, default=5, help="cycles counted (default 5)")
    p.add_argument("--scenario", choices=("idle", "node"), default="idle",
                   help="the host as it is, or holding 1,000 open TCP sockets and 300 more "
                   "processes while it counts (bench/node.py, as run.py --scenario node)")
    p.add_argument("--if-available", action="store_true",
                   help="without valgrind, say so and exit 0 (for make bench)")
    p.add_argument("--json", type=Path, default=None,
                   help="default: bench/results/instructions.json (instructions-node.json)")
    a = p.parse_args(argv)
    if tools() is None:
        print("bench/instructions.py: valgrind (with callgrind_control) is not installed, so "
              "no instruction counts (Debian/Ubuntu: apt-get install valgrind)", file=sys.stderr)
        return 0 if a.if_available else MISSING
    if a.warmup < 2 or a.cycles < 1:
        p.error("--warmup: at least 2; --cycles: at least 1")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if a.scenario == "node":
        shape = Shape()
        print(f"node-shaped host: {shape.describe()}", file=sys.stderr, flush=True)
        with node(shape) as held:
            root = {"ADK_AGENT_ROOT_PATH": held["root"]} if "root" in held else {}
            result = measure(a.interval, a.warmup, a.cycles, RESULTS, root)
    else:
        result = measure(a.interval, a.warmup, a.cycles, RESULTS)
    result["scenario"] = a.scenario
    path = a.json or RESULTS / ("instructions.json" if a.scenario == "idle"
                                else f"instructions-{a.scenario}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
