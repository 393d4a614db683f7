"""The start time of every sum as a collector receives it, through Rotel: where its count
began (the host's boot, the process's creation, the agent's start), and delta points that each
cover one real interval."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import psutil

from agent.catalog import BY_NAME
from agent.export.series import iso_ns
from agent.sources.base import Start
from tests.collector import Rotel
from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Point, Receiver

DELTA, CUMULATIVE = 1, 2


def boot_ns() -> int:
    line = next(x for x in Path("/proc/stat").read_text().splitlines() if x.startswith("btime"))
    return int(line.split()[1]) * 10**9


def series(points: list[Point]) -> dict[tuple, list[Point]]:
    out: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        out[(p.name, tuple(sorted(p.attributes.items())))].append(p)
    return {k: sorted(v, key=lambda p: p.time_unix_nano) for k, v in out.items()}


def run(env: dict[str, str], receiver: Receiver, rotel: Rotel, agents: list,
        tmp_path: Path, cycles: int) -> tuple[AgentProcess, int]:
    launched = time.time_ns()
    agent = AgentProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint,
                          "ADK_AGENT_INTERVAL": "500ms", **env}, workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: len(receiver.cycles()) >= cycles, 30), agent.stderr()
    return agent, launched


def test_cumulative_sums_start_where_their_counts_began(receiver: Receiver, rotel: Rotel,
                                                        agents: list, tmp_path: Path) -> None:
    agent, launched = run({}, receiver, rotel, agents, tmp_path, cycles=3)
    boot = boot_ns()
    created = psutil.Process(agent.proc.pid).create_time() * 1e9
    agent_starts = set()
    clocks = set()
    for p in receiver.points():
        start = BY_NAME[p.name].start
        if p.kind == "gauge":
            assert p.start_time_unix_nano == 0, p.name  # gauges carry none
            continue
        assert p.temporality == CUMULATIVE and p.start_time_unix_nano <= p.time_unix_nano
        clocks.add(start)
        if start is Start.BOOT:  # the host's counters: since boot, not since the agent
            assert p.start_time_unix_nano == boot, p.name
        elif start is Start.PROCESS:  # the process's: since its creation, on the point
            began = iso_ns(p.attributes["process.creation.time"])
            assert p.start_time_unix_nano == began, p.name
            assert abs(began - created) < 11e6  # psutil agrees, to its clock tick
        else:  # the agent's report on itself: since the agent started
            assert launched <= p.start_time_unix_nano, p.name
            agent_starts.add(p.start_time_unix_nano)
    assert clocks == set(Start)
    assert len(agent_starts) == 1  # one start for all of them
    assert agent.terminate() == 0


def test_delta_points_each_cover_one_interval(receiver: Receiver, rotel: Rotel, agents: list,
                                              tmp_path: Path) -> None:
    agent, launched = run({"ADK_AGENT_TEMPORALITY": "delta"}, receiver, rotel, agents,
                          tmp_path, cycles=5)
    ncpu = os.cpu_count() or 1
    collections = {p.time_unix_nano for p in receiver.points()}  # every cycle's time
    checked = set()
    for (name, _), points in series(receiver.points()).items():
        if points[0].temporality != DELTA:
            continue
        start = BY_NAME[name].start
        for before, p in zip([None, *points], points, strict=False):
            assert launched <= p.start_time_unix_nano < p.time_unix_nano, name
            if before is not None:  # each point follows on from the one before
                assert p.start_time_unix_nano == before.time_unix_nano, name
            elif start is not Start.AGENT:
                # the first begins at an earlier collection: one interval of the agent's own,
                # never the count since boot (or since a process began before the agent)
                assert p.start_time_unix_nano in collections, name
        if start is Start.AGENT:  # counted from the agent's start, which the first says
            assert points[0].start_time_unix_nano < min(collections)
        checked.add(name)
    # CPU seconds of a point fit in its interval: the first is not the since-boot total
    by_time: dict[tuple[str, int], list[Point]] = defaultdict(list)
    for p in receiver.points("system.cpu.time") + receiver.points("process.cpu.time"):
        by_time[(p.name, p.time_unix_nano)].append(p)
    for (name, _), points in by_time.items():
        span = (points[0].time_unix_nano - points[0].start_time_unix_nano) / 1e9
        assert sum(p.value for p in points) <= ncpu * span * 2 + 0.1, (name, span)
    assert agent.terminate() == 0
