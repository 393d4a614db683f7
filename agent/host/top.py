"""Which processes are using the machine: the walk of the process table (Reader.process_walk)
ranked by CPU used since the previous walk and by resident memory, the top N of each kind
chosen, with a margin against churn.

A process entering and leaving the top set starts and ends series, so a process already chosen
stays while it ranks within N + margin(N); a newcomer needs a rank within N. At most N +
margin(N) processes are chosen per kind, and a process that drops further, or exits, is simply
no longer chosen. Ties go to the process already chosen, then to the lower pid; a process with
nothing to rank by (no CPU since the previous walk, no resident memory) is never chosen, so
idle processes do not take turns filling the set.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.host.records import Glance

Key = tuple[int, float]  # (pid, start): one process, never a later one reusing its pid


def margin(n: int) -> int:
    """How many ranks past the cut a chosen process may fall and still be reported: a fifth
    of N, at least one."""
    return max(1, n // 5)


@dataclass(frozen=True, slots=True)
class Pick:
    pid: int
    kind: str  # cpu | memory
    rank: int  # 1 is the most
    value: float  # CPU seconds since the previous walk, or resident bytes
    start: float  # as the walk gives it: with the pid, the process


def choose(kind: str, values: Mapping[Key, float], n: int, held: set[Key]) -> list[Pick]:
    """The processes of `values` (all above zero) ranked within n, and those of `held` ranked
    within n + margin(n), in rank order."""
    cut = n + margin(n)
    if len(values) > cut:  # rank only the few that can make the cut (and ties with it)
        floor = heapq.nlargest(cut, values.values())[-1]
        values = {k: v for k, v in values.items() if v >= floor}
    order = sorted(values, key=lambda k: (-values[k], k not in held, k[0]))[:cut]
    return [Pick(k[0], kind, rank, values[k], k[1]) for rank, k in enumerate(order, 1)
            if rank <= n or k in held]


class Ranker:
    """Keeps, between walks, the previous walk (for CPU since then) and what each kind chose
    (for the margin); both are replaced by each walk, so processes that exited are forgotten
    with it."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)  # kind -> N
        self._prev: dict[int, Glance] | None = None  # pid -> the previous walk's glance
        self._held: dict[str, set[Key]] = {kind: set() for kind in self.counts}
        self.picks: list[Pick] = []  # the last walk's choice, for the health document

    def rank(self, walk: Sequence[Glance]) -> list[Pick]:
        picks: list[Pick] = []
        for kind, n in self.counts.items():
            values = self._cpu_used(walk) if kind == "cpu" else self._resident(walk, n)
            chosen = choose(kind, values, n, self._held[kind])
            self._held[kind] = {(p.pid, p.start) for p in chosen}
            picks += chosen
        self.picks = picks
        return picks

    def _cpu_used(self, walk: Sequence[Glance]) -> dict[Key, float]:
        """CPU seconds each process used since the previous walk (none at the first walk:
        there is nothing to measure from). A process the previous walk did not see started
        since, so all its CPU time is recent."""
        prev, self._prev = self._prev, {g[0]: g for g in walk}
        if prev is None:
            return {}
        used: dict[Key, float] = {}
        for g in walk:
            was = prev.get(g[0])
            spent = g[3] if was is None or was[1] != g[1] else g[3] - was[3]
            if spent > 0:
                used[(g[0], g[1])] = spent
        return used

    @staticmethod
    def _resident(walk: Sequence[Glance], n: int) -> dict[Key, float]:
        """Resident bytes of the processes that can make the cut (no key built for the rest)."""
        cut = n + margin(n)
        floor = heapq.nlargest(cut, [g[4] for g in walk])[-1] if len(walk) > cut else 0
        return {(g[0], g[1]): g[4] for g in walk if g[4] >= floor and g[4] > 0}
