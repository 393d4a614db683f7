"""Soak: run `adk-agent run` at a short interval against a local OTLP receiver and sample its
resident memory, threads and open file descriptors; flat lines mean no leak.

    python bench/soak.py --duration 600 --interval 1s     # the benchmark's 10-minute soak
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import AgentProcess  # noqa: E402
from tests.otlp_receiver import Receiver  # noqa: E402


@dataclass
class Sample:
    t: float
    rss_mb: float
    threads: int
    fds: int
    cycles: int


@dataclass
class Report:
    duration_s: float
    interval: str
    cycles: int
    rss_mb_after_warmup: float
    rss_mb_end: float
    rss_growth_mb: float
    threads: tuple[int, int]  # min, max after warm-up
    fds: tuple[int, int]
    # a leak raises the floor: the fewest descriptors seen in the first and last third
    fds_floor: tuple[int, int]
    samples: list[Sample]


def soak(duration: float, interval: str, warmup: float, every: float,
         workdir: Path) -> Report:
    receiver = Receiver().start()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": interval}, workdir=workdir)
    proc = psutil.Process(agent.proc.pid)
    samples: list[Sample] = []
    try:
        start = time.monotonic()
        while (now := time.monotonic() - start) < duration:
            with proc.oneshot():
                samples.append(Sample(round(now, 1), proc.memory_info().rss / 2**20,
                                      proc.num_threads(), proc.num_fds(),
                                      len(receiver.snapshot())))
            time.sleep(every)  # a sampling period, not a synchronisation
        assert agent.terminate() == 0, agent.stderr()
    finally:
        agent.kill()
        receiver.stop()
    steady = [s for s in samples if s.t >= warmup] or samples
    return Report(
        duration_s=duration, interval=interval, cycles=samples[-1].cycles,
        rss_mb_after_warmup=round(steady[0].rss_mb, 2), rss_mb_end=round(steady[-1].rss_mb, 2),
        rss_growth_mb=round(steady[-1].rss_mb - steady[0].rss_mb, 2),
        threads=(min(s.threads for s in steady), max(s.threads for s in steady)),
        fds=(min(s.fds for s in steady), max(s.fds for s in steady)),
        fds_floor=(min(s.fds for s in steady[: max(len(steady) // 3, 1)]),
                   min(s.fds for s in steady[-max(len(steady) // 3, 1):])),
        samples=samples)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--interval", default="1s")
    p.add_argument("--warmup", type=float, default=30)
    p.add_argument("--every", type=float, default=5)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    a = p.parse_args()
    a.json.parent.mkdir(parents=True, exist_ok=True)
    r = soak(a.duration, a.interval, a.warmup, a.every, a.json.parent)
    a.json.write_text(json.dumps(asdict(r), indent=1))
    print(f"{r.duration_s:.0f}s at {r.interval}: {r.cycles} cycles exported")
    print(f"RSS {r.rss_mb_after_warmup} MB after warm-up -> {r.rss_mb_end} MB at the end "
          f"({r.rss_growth_mb:+} MB); threads {r.threads[0]}..{r.threads[1]}; "
          f"fds {r.fds[0]}..{r.fds[1]} (a file being read counts; floor {r.fds_floor[0]} -> "
          f"{r.fds_floor[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
