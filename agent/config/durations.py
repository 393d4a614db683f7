"""Durations as people write them: `500ms`, `10s`, `1m`, `1h`, or plain seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Every duration is at most a day: longer ones mean nothing here, and from about 9.2e9 s on
# (threading.TIMEOUT_MAX) a wait on them raises in the thread that does it.
MAX_SECONDS = 86_400.0
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds; ValueError with a readable reason otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 500ms, 10s or 1m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _RE.match(str(value))
        if not m:
            raise ValueError("expected a duration such as 500ms, 10s or 1m")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a duration must be more than zero")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration must be at most 24h")
    return seconds

