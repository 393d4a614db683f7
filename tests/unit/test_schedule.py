"""The periodic schedule's arithmetic: each agent at its own phase of the interval, on a fixed
period (agent/pipeline.py). Real agents on it: tests/e2e/test_schedule.py."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from agent.pipeline import first_delay, next_due, phase


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


