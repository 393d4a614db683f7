"""The outage queue: encoded batches waiting for the collector, oldest first, bounded in
batches and in bytes, and optionally kept on disk (agent/export/spool.py) so a restart loses
nothing either.

A batch is held as its encoded bytes (a parsed request takes about four times as much memory).
With a queue directory a batch lives in its file and is read back when it reaches the head of
the queue, so what the last run left costs no memory until it is sent; a batch whose file could
not be written (a full disk) stays in memory. Either way the bytes of all queued batches, on
disk and in memory, stay under the byte bound (the newest batch is always kept, even alone
over it)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from agent.export.spool import PREFIX, Spool

__all__ = ["DEFAULT_MAX_BYTES", "Outbox", "mib"]

log = logging.getLogger("agent.queue")
Batch = tuple[int, bytes, int]  # sequence number, payload, points
DEFAULT_MAX_BYTES = 16 << 20


def mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


@dataclass(slots=True)
class _Item:
    seq: int
    size: int
    points: int | None  # None: a file from an older agent, counted when read
    payload: bytes | None  # None: in its file only, read when it reaches the head
    stem: str | None = None  # its file name in the queue directory, if it has one


class Outbox:
    def __init__(self, max_batches: int, directory: Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self.directory = directory
        self.dropped = 0
        self.dropped_points = 0
        self.bytes = 0  # of all queued batches
        self._items: deque[_Item] = deque()
        self._seq = 0
        self._lock = threading.Lock()
        self._full_warned = False
        self._spool = Spool(directory) if directory is not None else None
        if self._spool is not None:
            self._load(self._spool)

    def __len__(self) -> int:
        return len(self._items)

    def in_memory_only(self) -> int:
        """Batches that have no file (none with no queue directory): lost at exit."""
        with self._lock:
            return sum(1 for item in self._items if item.stem is None)

    def close(self) -> None:
        """Let go of the queue directory (at shutdown: what is queued stays in it)."""
        if self._spool is not None:
            self._spool.close()

    def put(self, payload: bytes, points: int) -> None:
        with self._lock:
            self._seq += 1
            item = _Item(self._seq, len(payload), points, payload)
            self._save(item, f"{PREFIX}{self._seq:020d}")
            self._items.append(item)
            self.bytes += item.size
            bound = self._trim()
            if bound and not self._full_warned:
                self._full_warned = True
                log.warning("export queue full (%s): dropping the oldest batches; the count is "
                            "in the health document", bound)

    def head(self) -> Batch | None:
        """The oldest batch, read from its file if need be; a file that cannot be read is set
        aside with a warning and the next batch is the head."""
        with self._lock:
            while self._items:
                item = self._items[0]
                if item.payload is None:
                    assert self._spool is not None and item.stem is not None
                    try:
                        item.payload, item.points = self._spool.read(item.stem)
                    except (OSError, ValueError) as exc:
                        self._items.popleft()
                        self.bytes -= item.size
                        why = exc.strerror if isinstance(exc, OSError) and exc.strerror \
                            else str(exc)
                        self._spool.quarantine(item.stem, why)
                        continue
                return item.seq, item.payload, item.points or 0
            return None

    def pop(self, seq: int) -> None:
        """Remove a batch once it was delivered (or rejected for good)."""
        with self._lock:
            if self._items and self._items[0].seq == seq:
                self._forget(self._items.popleft())
            if not self._items:
                self._full_warned = False

    def split(self, seq: int, parts: list[tuple[bytes, int]]) -> None:
        """Replace the head batch by its parts (payload, points), in order, at the head. The
        bounds are not applied: the parts are what the head was, and go first."""
        with self._lock:
            if not self._items or self._items[0].seq != seq:
                return
            head = self._items.popleft()
            fresh: list[_Item] = []
            for i, (payload, points) in enumerate(parts):
                self._seq += 1
                item = _Item(self._seq, len(payload), points, payload)
                if head.stem is not None:
                    self._save(item, f"{head.stem}-{i}")
                fresh.append(item)
                self.bytes += item.size
            self._items.extendleft(reversed(fresh))
            self._forget(head)  # after the parts are written: a crash between repeats, not loses

    def _save(self, item: _Item, stem: str) -> None:
        """Give a batch its file; its bytes then leave memory."""
        if self._spool is not None and item.payload is not None and \
                self._spool.write(stem, item.payload, item.points or 0):
            item.stem, item.payload = stem, None

    def _forget(self, item: _Item) -> None:
        self.bytes -= item.size
        if item.stem is not None and self._spool is not None:
            self._spool.remove(item.stem)

    def _trim(self) -> str | None:
        """Drop the oldest batches beyond the bounds; the bound that dropped any, or None."""
        bound = None
        while len(self._items) > 1 and (len(self._items) > self.max_batches
                                        or self.bytes > self.max_bytes):
            bound = (f"{self.max_batches} batches, ADK_AGENT_QUEUE_MAX_BATCHES"
                     if len(self._items) > self.max_batches
                     else f"{mib(self.max_bytes)}, ADK_AGENT_QUEUE_MAX_BYTES")
            item = self._items.popleft()
            self._forget(item)
            self.dropped += 1
            self.dropped_points += item.points or 0
        return bound

    def _load(self, spool: Spool) -> None:
        """Index what the last run left, newest first within the bounds, without reading it;
        drop the rest, and say in one line what was found, kept and dropped, and why."""
        stored, top, unreadable = spool.scan()
        self._seq = top
        keep = 0
        size = 0
        for s in reversed(stored):
            if keep == self.max_batches or (keep and size + s.size > self.max_bytes):
                break
            keep += 1
            size += s.size
        cut = len(stored) - keep
        for s in stored[:cut]:
            spool.remove(s.stem)
            self.dropped += 1
            self.dropped_points += s.points or 0
        for s in stored[cut:]:
            self._seq += 1
            self._items.append(_Item(self._seq, s.size, s.points, None, s.stem))
        self.bytes = size
        if not stored and not unreadable:
            return
        total = sum(s.size for s in stored)
        line = (f"export queue: {len(stored)} batches ({mib(total)}) from the last run in "
                f"{self.directory}")
        if cut:
            why = (f"ADK_AGENT_QUEUE_MAX_BATCHES={self.max_batches}" if keep == self.max_batches
                   else f"ADK_AGENT_QUEUE_MAX_BYTES ({mib(self.max_bytes)})")
            line += (f": sending the newest {keep} ({mib(size)}) first, dropped the {cut} "
                     f"oldest beyond {why}")
        else:
            line += " will be sent first"
        if unreadable:
            line += f"; {unreadable} unreadable files set aside as .corrupt"
        (log.warning if cut or unreadable else log.info)(line)
