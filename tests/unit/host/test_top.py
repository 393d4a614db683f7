"""Ranking the process table, with fixed walks: CPU since the previous walk, resident memory,
the top N of each, and the margin a chosen process keeps."""

from __future__ import annotations

import pytest

from agent.host.records import Glance
from agent.host.top import Ranker, choose, margin


def walk(cpu: dict[int, float] | None = None, rss: dict[int, int] | None = None,
         start: float = 100) -> list[Glance]:
    cpu, rss = cpu or {}, rss or {}
    return [(pid, start, "sleeping", cpu.get(pid, 0.0), rss.get(pid, 0))
            for pid in sorted(cpu.keys() | rss.keys())]


def chosen(ranker: Ranker, w: list[Glance], kind: str = "cpu") -> list[int]:
    return [p.pid for p in ranker.rank(w) if p.kind == kind]


@pytest.mark.parametrize(("n", "extra"), [(1, 1), (3, 1), (5, 1), (9, 1), (10, 2), (20, 4)])
def test_the_margin_is_a_fifth_of_n_and_at_least_one(n: int, extra: int) -> None:
    assert margin(n) == extra


def test_highest_first_ties_to_the_process_already_chosen_then_the_lower_pid() -> None:
    values = {(1, 0.0): 5.0, (2, 0.0): 7.0, (3, 0.0): 5.0, (4, 0.0): 5.0, (5, 0.0): 1.0}
    assert [(p.pid, p.rank) for p in choose("cpu", values, 2, set())] == [(2, 1), (1, 2)]
    # 4 ties with 1 and 3 and was chosen before: it keeps its place
    assert [p.pid for p in choose("cpu", values, 2, {(4, 0.0)})] == [2, 4]


def test_cpu_ranks_by_what_was_used_since_the_previous_walk() -> None:
    ranker = Ranker({"cpu": 2})
    # 1 has used the most since it started, but nothing lately
    assert chosen(ranker, walk({1: 900.0, 2: 10.0, 3: 20.0, 4: 5.0})) == []  # nothing to measure
    assert chosen(ranker, walk({1: 900.0, 2: 12.0, 3: 20.5, 4: 8.0})) == [4, 2]
    picks = ranker.picks
    assert [(p.rank, p.value) for p in picks] == [(1, 3.0), (2, 2.0)]


def test_a_process_started_since_counts_all_its_cpu_and_a_reused_pid_is_another() -> None:
    ranker = Ranker({"cpu": 1})
    ranker.rank(walk({1: 10.0, 2: 10.0}))
    assert chosen(ranker, walk({1: 10.5, 2: 10.0, 3: 2.0})) == [3]  # new: 2 s since it began
    reused = [*walk({1: 11.0, 3: 2.0}), (2, 500, "running", 4.0, 0)]  # pid 2, started later
    assert chosen(ranker, reused) == [2]


def test_idle_processes_are_never_chosen() -> None:
    ranker = Ranker({"cpu": 3, "memory": 3})
    ranker.rank(walk({1: 1.0, 2: 1.0, 3: 1.0}, {1: 4096}))
    picks = ranker.rank(walk({1: 1.5, 2: 1.0, 3: 1.0}, {1: 4096}))  # 2 and 3 idle, no rss
    assert [(p.kind, p.pid) for p in picks] == [("cpu", 1), ("memory", 1)]


def test_a_chosen_process_stays_within_the_margin_and_a_newcomer_needs_the_cut() -> None:
    ranker = Ranker({"memory": 5})  # margin 1: chosen ones stay down to rank 6
    sizes = {pid: 1000 - 10 * pid for pid in range(1, 9)}  # 1 is the largest
    assert chosen(ranker, walk(rss=sizes), "memory") == [1, 2, 3, 4, 5]
    sizes[9] = 1500  # a newcomer on top pushes 5 to rank 6: it stays
    assert chosen(ranker, walk(rss=sizes), "memory") == [9, 1, 2, 3, 4, 5]
    sizes[10] = 1400  # another pushes 5 to rank 7: it goes; 4 is at rank 6 and stays
    assert chosen(ranker, walk(rss=sizes), "memory") == [9, 10, 1, 2, 3, 4]
    sizes[5] = 965  # 5 back at rank 6 is not chosen again (a newcomer needs rank 5), and
    # pushes 4 to rank 7
    assert chosen(ranker, walk(rss=sizes), "memory") == [9, 10, 1, 2, 3]
    assert [p.rank for p in ranker.picks] == [1, 2, 3, 4, 5]


def test_at_most_n_plus_the_margin_however_the_ranks_shuffle() -> None:
    ranker = Ranker({"cpu": 10})  # margin 2
    used = {pid: 0.0 for pid in range(1, 40)}
    ranker.rank(walk(used))
    sizes = set()
    for cycle in range(1, 30):
        used = {pid: total + (pid * 7919 * cycle) % 97 + 1 for pid, total in used.items()}
        sizes.add(len(chosen(ranker, walk(used))))
    assert sizes == {10, 11, 12}  # the margin at work, never beyond it


def test_a_process_that_exits_is_dropped_and_forgotten() -> None:
    ranker = Ranker({"cpu": 2, "memory": 2})
    ranker.rank(walk({1: 1.0, 2: 1.0, 3: 1.0}, {1: 300, 2: 200, 3: 100}))
    picks = ranker.rank(walk({1: 2.0, 2: 2.0, 3: 1.5}, {1: 300, 2: 200, 3: 100}))
    assert {p.pid for p in picks} == {1, 2}
    picks = ranker.rank(walk({2: 3.0, 3: 2.0}, {2: 200, 3: 100}))  # 1 exited
    assert [(p.kind, p.pid) for p in picks] == [("cpu", 2), ("cpu", 3), ("memory", 2),
                                                ("memory", 3)]
    assert 1 not in ranker._prev  # nothing kept for it
