"""The cost of ranking the process table (top:cpu:N, top:memory:N) with about 100, 1,000 and
3,000 processes on the host (sleeping children this script spawns, on top of what runs):

  rank            one walk of /proc (one /proc/<pid>/stat per process: reader.process_walk)
                  and the ranking (agent/host/top.py), µs of this thread's CPU per cycle
                  (time.thread_time over many cycles), split into user and kernel time
                  (getrusage(RUSAGE_THREAD));
  kernel floor    the same files opened, read and closed with nothing parsed: what the kernel
                  charges for them whoever reads them;
  process source  the whole process source with top:cpu:10,top:memory:10: the walk, the
                  ranking and the full reads of the processes chosen;
  instructions    user-space instructions per walk and ranking, counted by valgrind's
                  callgrind (this script run under it with two numbers of walks; the
                  difference over the walks between): the figure that does not move with the
                  machine. Only where valgrind is installed.

    .venv/bin/python bench/ranking.py [--rounds 40] [--counts 100,1000,3000]

bench/sources.py runs it as part of its scaling section. Printed, and written as JSON to
bench/results/ranking.json when run alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from node import sleepers  # noqa: E402

from agent.host.cycle import Cycle  # noqa: E402
from agent.host.linux import LinuxReader  # noqa: E402
from agent.host.paths import HostFS  # noqa: E402
from agent.host.top import Ranker  # noqa: E402
from agent.pipeline import Agent  # noqa: E402
from agent.settings import load_config  # noqa: E402

RESULTS = HERE / "results"
TOP = {"cpu": 10, "memory": 10}


def processes() -> int:
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def thread_times() -> tuple[float, float, float]:
    """(CPU, user, kernel) seconds of this thread."""
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return time.thread_time(), r.ru_utime, r.ru_stime


def per_cycle(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(3):
        fn()
    before = thread_times()
    for _ in range(rounds):
        fn()
    after = thread_times()
    cpu, user, kernel = ((a - b) / rounds * 1e6 for a, b in zip(after, before, strict=True))
    return {"cpu_us": round(cpu, 1), "user_us": round(user, 1), "kernel_us": round(kernel, 1)}


def walk_and_rank() -> Callable[[], object]:
    cycle = Cycle()
    reader = LinuxReader(HostFS("/"), cycle, load_config(exporter="none"))
    ranker = Ranker(TOP)

    def once() -> object:
        cycle.open()
        return ranker.rank(reader.process_walk())

    return once


def open_read_close() -> None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
            except OSError:
                continue
            with suppress(OSError):
                os.read(fd, 1024)
            os.close(fd)


def process_source(rounds: int) -> dict[str, float]:
    # a chosen process that is not ours to read in full warns once; not the benchmark's business
    logging.getLogger("agent").setLevel(logging.ERROR)
    agent = Agent(load_config(exporter="none", interval="3600s", health_address="",
                              sources="process", processes="top:cpu:10,top:memory:10"))
    agent.collect()

    def cycle() -> int:
        agent.context.cycle.open()
        return sum(len(agent.observe(b) or ()) for b in agent.bound)

    out = per_cycle(cycle, rounds)
    out["series"] = cycle()
    return out


def instructions(walks: tuple[int, int]) -> dict[str, float] | None:
    """User-space instructions per walk and ranking, from two callgrind runs of this script."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in walks:
            out = Path(tmp) / f"callgrind.{n}"
            subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                            sys.executable, __file__, "--walks", str(n)], check=True,
                           capture_output=True)
            summary = [line for line in out.read_text().splitlines()
                       if line.startswith("summary:")]
            counts.append(int(summary[0].split()[1]))
    per_walk = (counts[1] - counts[0]) / (walks[1] - walks[0])
    return {"instructions_per_cycle": round(per_walk),
            "instructions_per_process": round(per_walk / processes())}


def scaling(counts: tuple[int, ...], rounds: int, count_instructions: bool = True
            ) -> list[dict[str, Any]]:
    """Largest first: every sleeper is started once, then the extras are killed (and reaped,
    or they would stay listed as zombies) on the way down."""
    rows = []
    present = processes()
    with sleepers(max(0, max(counts) - present)) as pids:
        for n in sorted(counts, reverse=True):
            keep = max(0, n - present)
            for pid in pids[keep:]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            del pids[keep:]
            row: dict[str, Any] = {"processes": processes()}
            row["rank"] = per_cycle(walk_and_rank(), rounds)
            row["rank"]["us_per_process"] = round(row["rank"]["cpu_us"] / row["processes"], 2)
            row["kernel_floor"] = per_cycle(open_read_close, rounds)
            row["process_source"] = process_source(rounds)
            if count_instructions and n == 1000:
                row["instructions"] = instructions((2, 12))
            rows.append(row)
    return rows[::-1]


def report(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["ranking the process table (top:cpu:10,top:memory:10; µs of CPU per cycle, "
             "user + kernel):",
             "  processes | walk+rank: CPU, user, kernel, µs/process | kernel floor (open, "
             "read, close) | process source | instructions/process"]
    for row in rows:
        r, k, p = row["rank"], row["kernel_floor"], row["process_source"]
        ins = row.get("instructions") or {}
        lines.append(f"  {row['processes']:>9} | {r['cpu_us']:>8.0f} {r['user_us']:>7.0f} "
                     f"{r['kernel_us']:>7.0f} {r['us_per_process']:>6.2f} | "
                     f"{k['cpu_us']:>8.0f} | {p['cpu_us']:>8.0f} | "
                     f"{ins.get('instructions_per_process', '')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=40, help="cycles per measurement")
    p.add_argument("--counts", default="100,1000,3000", help="processes on the host")
    p.add_argument("--walks", type=int, help=argparse.SUPPRESS)  # the child under valgrind
    a = p.parse_args(argv)
    if a.walks is not None:
        once = walk_and_rank()
        for _ in range(a.walks):
            once()
        return 0
    rows = scaling(tuple(int(c) for c in a.counts.split(",")), a.rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ranking.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(report(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
