"""Per-cycle reads shared by every instrument callback and by the health endpoint.

A read method decorated with `@per_cycle` runs at most once per collection cycle, however many
instruments use its result: the first caller reads, the rest (and the health endpoint) reuse the
value until it is older than the source's `max_age`. Failures are memoised too, so a broken
/proc file costs one attempt per cycle, not one per instrument.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """Holds one source's reads for the current cycle."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self.entries: dict[str, tuple[float, Any, BaseException | None]] = {}

    def get(self, key: str, read: Callable[[], T]) -> T:
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is None or now - entry[0] >= self.max_age:
            try:
                entry = (now, read(), None)
            except Exception as exc:  # remembered and re-raised to every caller this cycle
                entry = (now, None, exc)
            self.entries[key] = entry
        if entry[2] is not None:
            raise entry[2]
        return entry[1]

    def peek(self, key: str) -> Any:
        """The last good value of a read without reading (for the health endpoint)."""
        entry = self.entries.get(key)
        return None if entry is None or entry[2] is not None else entry[1]


def per_cycle(method: Callable[[Any], T]) -> Callable[[Any], T]:
    """Memoise a zero-argument read method on the instance's `memo` for one cycle."""
    key = method.__name__

    @functools.wraps(method)
    def wrapper(self: Any) -> T:
        return self.memo.get(key, lambda: method(self))

    return wrapper
