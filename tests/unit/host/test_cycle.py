"""Cycles and the per-cycle memo: a read happens once per cycle, a slow owner keeps its reads
for a whole number of cycles, a failure is remembered for its cycle."""

from __future__ import annotations

import pytest

from agent.host.cycle import Cycle, Memo


def test_a_read_is_made_once_per_cycle_and_afresh_in_the_next() -> None:
    cycle, calls = Cycle(), []
    memo = Memo(cycle)

    def read() -> int:
        calls.append(cycle.number)
        return len(calls)

    cycle.open()
    assert [memo.get("k", read) for _ in range(3)] == [1, 1, 1]
    cycle.open()
    assert memo.get("k", read) == 2
    assert calls == [1, 2]


def test_a_slow_owner_keeps_its_reads_for_its_cycles() -> None:
    cycle, calls = Cycle(), []
    memo = Memo(cycle, every=3)
    for _ in range(7):
        cycle.open()
        memo.get("k", lambda: calls.append(cycle.number))
    assert calls == [1, 4, 7]


def test_a_failure_is_remembered_for_its_cycle_and_peek_says_none() -> None:
    cycle, calls = Cycle(), []
    memo = Memo(cycle)

    def broken() -> int:
        calls.append(1)
        raise OSError("gone")

    cycle.open()
    assert memo.peek("k") is None
    for _ in range(2):
        with pytest.raises(OSError):
            memo.get("k", broken)
    assert len(calls) == 1 and memo.peek("k") is None
    cycle.open()
    assert memo.get("k", lambda: 5) == 5 and memo.peek("k") == 5
