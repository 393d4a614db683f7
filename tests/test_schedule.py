"""The periodic schedule: each agent at its own phase of the interval, on a fixed period."""

from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path

import pytest

from agent.schedule import first_delay, next_due, phase
from tests.harness import AgentProcess
from tests.otlp_receiver import Receiver


def machine_ids(n: int) -> list[str]:
    """n distinct ids shaped like /etc/machine-id (32 hex digits)."""
    return [hashlib.md5(f"node-{i}".encode()).hexdigest() for i in range(n)]


def test_phases_spread_evenly_over_the_interval() -> None:
    interval = 10.0
    phases = sorted(phase(i, interval) for i in machine_ids(10_000))
    assert all(0 <= p < interval for p in phases)
    # each tenth of the interval holds a tenth of the fleet (binomial sd ~30 of 1000)
    bins = [0] * 10
    for p in phases:
        bins[int(p / interval * 10)] += 1
    assert all(850 < b < 1150 for b in bins), bins
    # and no second of the interval is empty: the widest gap is a few thousandths of it
    gaps = [b - a for a, b in itertools.pairwise(phases)]
    assert max(gaps) < interval / 500


def test_a_phase_is_stable_and_scales_with_the_interval() -> None:
    ident = machine_ids(1)[0]
    assert phase(ident, 10.0) == phase(ident, 10.0)  # the same after a restart
    assert phase(ident, 60.0) == pytest.approx(phase(ident, 10.0) * 6)
    assert phase(ident, 10.0) != phase(machine_ids(2)[1], 10.0)


def test_first_delay_lands_on_the_phase_at_least_min_gap_away() -> None:
    # Unix time 1000.0 is 0 s into a 10 s interval; phase 3 s: due at 1003
    assert first_delay(3.0, 10.0, now=1000.0, min_gap=5.0) == pytest.approx(13.0)
    assert first_delay(7.0, 10.0, now=1000.0, min_gap=5.0) == pytest.approx(7.0)
    assert first_delay(3.0, 10.0, now=1001.0, min_gap=0.5) == pytest.approx(2.0)
    for now in (1000.0, 1234.5, 1_700_000_000.25):
        for ph in (0.0, 2.5, 9.99):
            d = first_delay(ph, 10.0, now, min_gap=5.0)
            assert 5.0 <= d < 15.0
            assert (now + d - ph) % 10.0 == pytest.approx(0, abs=1e-6) or \
                (now + d - ph) % 10.0 == pytest.approx(10.0, abs=1e-6)


def test_next_due_keeps_the_period_and_skips_missed_slots() -> None:
    assert next_due(100.0, 10.0, now=100.02) == 110.0  # a short collection: no drift
    assert next_due(100.0, 10.0, now=109.9) == 110.0
    assert next_due(100.0, 10.0, now=110.0) == 120.0  # the next slot just passed: skipped
    assert next_due(100.0, 10.0, now=135.0) == 140.0  # three slots missed: on phase again


def test_agents_run_their_cycles_at_their_own_phase(receiver: Receiver, agents: list,
                                                    tmp_path: Path) -> None:
    """Two real agents: each exports at once, then on a fixed 1 s period at the phase its
    service.instance.id gives, half an interval apart here."""
    interval = 1.0
    ids = [f"phase-test-{i}" for i in range(200)]
    early = next(i for i in ids if 0.1 < phase(i, interval) < 0.3)
    late = next(i for i in ids if 0.6 < phase(i, interval) < 0.8)
    started = {}
    for ident in (early, late):
        started[ident] = time.time()
        agents.append(AgentProcess({
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
            "ADK_AGENT_INTERVAL": "1s", "ADK_AGENT_SOURCES": "system",
            "ADK_AGENT_RESOURCE_ATTRIBUTES": f"service.instance.id={ident}"}, workdir=tmp_path))

    def cycles(ident: str) -> list[float]:
        seen: dict[int, None] = {}
        for p in receiver.points("system.uptime"):
            if p.resource.get("service.instance.id") == ident:
                seen[p.time_unix_nano] = None
        return [t / 1e9 for t in seen]

    assert receiver.wait_for(lambda r: min(len(cycles(early)), len(cycles(late))) >= 6, 20), \
        [a.stderr() for a in agents]
    for ident in (early, late):
        first, *periodic = cycles(ident)
        assert first - started[ident] < 10  # the export at start-up, not at the phase
        for t in periodic:
            # how late each cycle's timestamp is against its slot (taken after the reads,
            # so a little late; generous for a loaded CI machine)
            lag = (t - phase(ident, interval) + 0.25) % interval - 0.25
            assert -0.05 < lag < 0.25, (ident, phase(ident, interval), t, lag)
        assert all(0.75 < b - a < 1.25 for a, b in itertools.pairwise(periodic))
