"""The outage queue: encoded batches waiting for the collector, oldest first, bounded, and
optionally kept on disk so a restart loses nothing either.

On disk a batch is `<20-digit sequence>.otlp`; the parts of a batch split because it was too
large for the collector are `<its name>-0.otlp` and `<its name>-1.otlp`, so the files sort in
sending order whatever was split."""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections import deque
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

log = logging.getLogger("agent.queue")
Batch = tuple[int, ExportMetricsServiceRequest, int]


def count_points(request: ExportMetricsServiceRequest) -> int:
    n = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                n += len(getattr(m, kind).data_points) if kind else 0
    return n
MAGIC = b"ADKQ1"  # 5 bytes; file format: magic, crc32 of the payload (4 bytes, big endian), payload
SUFFIX = ".otlp"


class Outbox:
    def __init__(self, max_batches: int, directory: Path | None = None) -> None:
        self.max_batches = max_batches
        self.directory = directory
        self.dropped = 0
        self.dropped_points = 0
        # (sequence number, request, its points): the count travels with the batch
        self._items: deque[Batch] = deque()
        self._names: dict[int, str] = {}  # sequence -> file name stem, with a disk mirror
        self._seq = 0
        self._lock = threading.Lock()
        self._full_warned = False
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, request: ExportMetricsServiceRequest, points: int | None = None) -> None:
        with self._lock:
            self._seq += 1
            seq = self._seq
            if self.directory is not None:
                self._names[seq] = f"{seq:020d}"
                self._write(seq, request)
            self._items.append(
                (seq, request, count_points(request) if points is None else points))
            if self._trim() and not self._full_warned:
                self._full_warned = True
                log.warning("export queue full (%d batches, ADK_AGENT_QUEUE_MAX_BATCHES): "
                            "dropping the oldest; the count is in the health document",
                            self.max_batches)

    def head(self) -> Batch | None:
        with self._lock:
            return self._items[0] if self._items else None

    def pop(self, seq: int) -> None:
        """Remove a batch once it was delivered (or rejected for good)."""
        with self._lock:
            if self._items and self._items[0][0] == seq:
                self._items.popleft()
                self._unlink(seq)
            if not self._items:
                self._full_warned = False

    def split(self, seq: int, parts: list[tuple[ExportMetricsServiceRequest, int]]) -> None:
        """Replace the head batch by its parts (request, points), in order, at the head. The
        bound is not applied: the parts are what the head was, and go first."""
        with self._lock:
            if not self._items or self._items[0][0] != seq:
                return
            self._items.popleft()
            name = self._names.get(seq)
            fresh: list[Batch] = []
            for i, (request, points) in enumerate(parts):
                self._seq += 1
                fresh.append((self._seq, request, points))
                if name is not None:
                    self._names[self._seq] = f"{name}-{i}"
                    self._write(self._seq, request)
            self._items.extendleft(reversed(fresh))
            self._unlink(seq)  # after the parts are written: a crash between repeats, not loses

    def _trim(self) -> bool:
        """Drop the oldest batches beyond the bound; True when any went."""
        dropped = False
        while len(self._items) > self.max_batches:
            old, _, points = self._items.popleft()
            self._unlink(old)
            self.dropped += 1
            self.dropped_points += points
            dropped = True
        return dropped

    # disk
    def _path(self, seq: int) -> Path:
        assert self.directory is not None
        return self.directory / f"{self._names[seq]}{SUFFIX}"

    def _write(self, seq: int, request: ExportMetricsServiceRequest) -> None:
        payload = request.SerializeToString()
        data = MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload
        final = self._path(seq)
        tmp = final.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)  # readers never see half a file
        except OSError as exc:
            log.warning("cannot write the export queue to %s: %s; keeping it in memory",
                        self.directory, exc.strerror or exc)

    def _unlink(self, seq: int) -> None:
        if self.directory is not None:
            path = self._path(seq)
            del self._names[seq]
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove %s: %s", path, exc.strerror or exc)

    def _load(self) -> None:
        assert self.directory is not None
        for tmp in self.directory.glob("*.tmp"):  # a write the last run did not finish
            tmp.unlink(missing_ok=True)
        files = sorted(self.directory.glob(f"*{SUFFIX}"))
        for path in files:
            try:
                first = int(path.stem.split("-", 1)[0])
                data = path.read_bytes()
                head, crc, payload = data[:5], data[5:9], data[9:]
                if head != MAGIC or zlib.crc32(payload) != int.from_bytes(crc, "big"):
                    raise ValueError("truncated or corrupt")
                request = ExportMetricsServiceRequest.FromString(payload)
            except Exception as exc:
                log.warning("skipping unreadable queued batch %s: %s", path.name, exc)
                path.rename(path.with_suffix(".corrupt"))
                continue
            self._seq = max(self._seq, first) + 1
            self._names[self._seq] = path.stem
            self._items.append((self._seq, request, count_points(request)))
        if self._items:
            log.info("export queue: %d batches from the last run will be sent first",
                     len(self._items))
        self._trim()
