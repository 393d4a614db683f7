"""Collection cycles and the reads memoised for one cycle.

A collection opens a cycle (`Cycle.open`, as psutil's `oneshot` opens a cache); a read method
decorated with `@per_cycle` then runs at most once in that cycle however many instruments use
its result, and the next collection — the shutdown export included — reads afresh. A source
with a slower interval keeps its reads for a whole number of cycles. Failures are memoised
too, so a broken /proc file costs one attempt per cycle, not one per instrument.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def every_cycles(interval: float, export_interval: float) -> int:
    """The whole number of export cycles nearest a source's interval (halves round down, so
    timer jitter never stretches it); never fewer than one."""
    return max(1, math.ceil(interval / export_interval - 0.5))


class Cycle:
    """The number of the collection in progress; 0 before the first one."""

    def __init__(self) -> None:
        self.number = 0

    def open(self) -> int:
        self.number += 1
        return self.number


class Memo:
    """One owner's reads: each is kept for `every` cycles (1: read in every cycle)."""

    def __init__(self, cycle: Cycle, every: int = 1) -> None:
        self.cycle = cycle
        self.every = max(every, 1)
        # key -> (cycle it was read in, value, error)
        self.entries: dict[str, tuple[int, Any, BaseException | None]] = {}

    def get(self, key: str, read: Callable[[], T]) -> T:
        now = self.cycle.number
        entry = self.entries.get(key)
        if entry is None or now - entry[0] >= self.every:
            try:
                entry = (now, read(), None)
            except Exception as exc:  # remembered and re-raised to every caller this cycle
                entry = (now, None, exc)
            self.entries[key] = entry
        if entry[2] is not None:
            raise entry[2]
        return entry[1]

    def peek(self, key: str) -> Any:
        """The last value of a read without reading (for the health document); None when it
        was never read or its last read failed."""
        entry = self.entries.get(key)
        return None if entry is None or entry[2] is not None else entry[1]


def per_cycle(method: Callable[[Any], T]) -> Callable[[Any], T]:
    """Memoise a zero-argument read method on the instance's `memo`."""
    key = method.__name__

    @functools.wraps(method)
    def wrapper(self: Any) -> T:
        return self.memo.get(key, lambda: method(self))

    return wrapper
