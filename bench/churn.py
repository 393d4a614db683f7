"""Churn soak: processes start and exit every cycle under a `name:` target while the agent
exports to a local OTLP receiver. What must hold: resident memory stays flat, no export holds
more than ADK_AGENT_MAX_SERIES series per metric or an overflow point, every reported process
was alive when it was reported, every process alive across a whole cycle was reported, and
the agent's own series (which never stops) keeps one start time.

    python bench/churn.py --duration 300 --interval 1s --per-cycle 20   # the long form
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config.durations import parse_duration  # noqa: E402
from tests.harness import AgentProcess  # noqa: E402
from tests.otlp_receiver import Receiver, flatten  # noqa: E402

METRIC = "process.memory.usage"


@dataclass
class Life:
    pid: int
    start_ns: int
    end_ns: int | None = None


@dataclass
class Report:
    duration_s: float
    interval: str
    per_cycle: int
    max_series: int
    exports: int
    started: int  # processes started in all
    reported: int  # of them, reported at least once
    most_series: int  # the most points of METRIC in one export
    overflow_points: int
    wrong: list[str]  # reported while not alive (pid @ export time)
    missed: list[str]  # alive across a whole cycle, not reported
    own_start_times: int  # most start times one series of the agent's own process had
    rss_mb_after_warmup: float
    rss_mb_end: float
    rss_growth_mb: float
    rss: list[tuple[float, float]] = field(default_factory=list)


class Churner:
    """Starts `per_cycle` copies of sleep every interval; each lives `lives` intervals."""

    def __init__(self, exe: Path, interval: float, per_cycle: int, lives: int = 3) -> None:
        self.exe, self.interval, self.per_cycle, self.lives = exe, interval, per_cycle, lives
        self.log: list[Life] = []
        self._alive: list[tuple[subprocess.Popen[bytes], Life]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Churner:
        self._thread.start()
        return self

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.interval):
            tick += 1
            for _ in range(self.per_cycle):
                born = time.time_ns()  # before: the agent may see it before Popen returns
                p = subprocess.Popen([str(self.exe), "600"], stdin=subprocess.DEVNULL)
                life = Life(p.pid, born)
                self.log.append(life)
                self._alive.append((p, life))
            while len(self._alive) > self.per_cycle * self.lives:
                self._reap(*self._alive.pop(0))

    @staticmethod
    def _reap(p: subprocess.Popen[bytes], life: Life) -> None:
        p.kill()
        p.wait()  # reaped: no zombie left for the agent to see
        life.end_ns = time.time_ns()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        while self._alive:
            self._reap(*self._alive.pop(0))


def churn(duration: float, interval: str, per_cycle: int, max_series: int, warmup: float,
          workdir: Path) -> Report:
    name = f"adkchurn{os.getpid() % 100000}"  # the kernel keeps 15 characters of a name
    exe = workdir / name
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    seconds = parse_duration(interval)
    receiver = Receiver().start()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
                          "ADK_AGENT_INTERVAL": interval, "ADK_AGENT_SOURCES": "process",
                          "ADK_AGENT_PROCESSES": f"self,name:^{name}$",
                          "ADK_AGENT_MAX_SERIES": str(max_series)}, workdir=workdir)
    proc = psutil.Process(agent.proc.pid)
    churner = Churner(exe, seconds, per_cycle).start()
    rss: list[tuple[float, float]] = []
    try:
        started = time.monotonic()
        while (now := time.monotonic() - started) < duration:
            rss.append((round(now, 1), proc.memory_info().rss / 2**20))
            time.sleep(1.0)  # a sampling period, not a synchronisation
        churner.stop()
        assert agent.terminate() == 0, agent.stderr()
    finally:
        churner.stop()
        agent.kill()
        receiver.stop()
    steady = [r for r in rss if r[0] >= warmup] or rss
    report = _judge(receiver, churner.log, agent.proc.pid, seconds)
    return Report(duration, interval, per_cycle, max_series, rss=rss,
                  rss_mb_after_warmup=round(steady[0][1], 2), rss_mb_end=round(steady[-1][1], 2),
                  rss_growth_mb=round(steady[-1][1] - steady[0][1], 2), **report)


def _judge(receiver: Receiver, log: list[Life], own: int, interval: float) -> dict:
    lives: dict[int, list[Life]] = {}  # a pid may be reused within a run
    for life in log:
        lives.setdefault(life.pid, []).append(life)
    margin = int(max(0.25, interval / 2) * 1e9)
    exports = most = overflow = 0
    wrong: list[str] = []
    missed: list[str] = []
    reported: set[int] = set()
    own_starts: dict[str, set[int]] = {}
    for request in receiver.snapshot():
        points = flatten(request)
        mine = [p for p in points if p.name == METRIC]
        if not mine:
            continue
        exports += 1
        most = max(most, len(mine))
        overflow += sum(1 for p in points if p.attributes.get("otel.metric.overflow"))
        for p in points:
            if p.name == "process.cpu.time" and p.attributes.get("process.pid") == own:
                own_starts.setdefault(p.attributes["cpu.mode"], set()).add(
                    p.start_time_unix_nano)
        at = mine[0].time_unix_nano
        pids = {p.attributes.get("process.pid") for p in mine} - {own, None}
        reported |= pids
        for pid in pids:
            if not any(life.start_ns <= at and (life.end_ns or at) >= at - margin
                       for life in lives.get(pid, ())):
                wrong.append(f"{pid}@{at}")
        for life in log:
            if life.start_ns < at - margin - int(interval * 1e9) and \
                    (life.end_ns is None or life.end_ns > at + margin) and life.pid not in pids:
                missed.append(f"{life.pid}@{at}")
    return {"exports": exports, "started": len(log), "reported": len(reported & set(lives)),
            "most_series": most, "overflow_points": overflow, "wrong": wrong[:20],
            "missed": missed[:20],
            "own_start_times": max((len(s) for s in own_starts.values()), default=0)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=300)
    p.add_argument("--interval", default="1s")
    p.add_argument("--per-cycle", type=int, default=20)
    p.add_argument("--max-series", type=int, default=1000)
    p.add_argument("--warmup", type=float, default=30)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "churn.json")
    a = p.parse_args()
    a.json.parent.mkdir(parents=True, exist_ok=True)
    r = churn(a.duration, a.interval, a.per_cycle, a.max_series, a.warmup, a.json.parent)
    a.json.write_text(json.dumps(asdict(r), indent=1))
    print(f"{r.duration_s:.0f}s at {r.interval}, {r.per_cycle} processes started per cycle: "
          f"{r.started} processes, {r.reported} reported, {r.exports} exports")
    print(f"most series in one export {r.most_series}, overflow points {r.overflow_points}, "
          f"reported while not alive {len(r.wrong)}, missed {len(r.missed)}, "
          f"start times of one of the agent's own series {r.own_start_times}")
    print(f"RSS {r.rss_mb_after_warmup} MB after warm-up -> {r.rss_mb_end} MB at the end "
          f"({r.rss_growth_mb:+} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
