"""Logging: one line per event, text or JSON, with the noisy library loggers kept quiet."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(entry, ensure_ascii=False)


def _subject(record: logging.LogRecord) -> object:
    """What a warning is about: `extra={"subject": ...}` when the caller names it, else its
    text arguments (a source, a metric, a file, a reason). Numbers are left out: they are
    counts and durations that differ from one occurrence of the same event to the next."""
    subject = getattr(record, "subject", None)
    if subject is not None:
        return subject
    args = record.args if isinstance(record.args, tuple) else ()
    return tuple(a for a in args if isinstance(a, str))


class RateLimit(logging.Filter):
    """The same warning (same logger, template and subject) at most once per window; the next
    one after the window says how many were held back. Six sources failing with the same
    template are six warnings, one source failing every cycle is one."""

    def __init__(self, window: float = 60.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple[str, object, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.msg, _subject(record))
        now = time.monotonic()
        if len(self._seen) > 1024:  # subjects that churn: keep only those still held back
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.msg = f"{record.msg} ({last[1]} similar messages held back)"
        self._seen[key] = (now, 0)
        return True


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RateLimit())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
