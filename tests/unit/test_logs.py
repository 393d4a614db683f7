"""Log lines: text or JSON, one per event, repeated warnings held back."""

from __future__ import annotations

import json
import logging

from agent.logs import JsonFormatter, RateLimit


def test_json_formatter() -> None:
    record = logging.LogRecord("agent", logging.WARNING, __file__, 1, "export failed: %s",
                               ("UNAVAILABLE",), None)
    line = JsonFormatter().format(record)
    doc = json.loads(line)
    assert doc["level"] == "warning" and doc["message"] == "export failed: UNAVAILABLE"
    assert doc["time"].endswith("Z") and "\n" not in line


def test_repeated_warnings_are_rate_limited(monkeypatch: object) -> None:
    import agent.logs as logs

    now = [0.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: now[0])  # type: ignore[attr-defined]
    f = RateLimit(window=60)

    def rec(msg: str = "source %s failed") -> logging.LogRecord:
        return logging.LogRecord("agent", logging.WARNING, __file__, 1, msg, ("x",), None)

    assert f.filter(rec())
    assert not f.filter(rec()) and not f.filter(rec())
    assert f.filter(rec("another warning"))
    now[0] = 61.0
    r = rec()
    assert f.filter(r) and "2 similar messages held back" in r.getMessage()
    info = logging.LogRecord("agent", logging.INFO, __file__, 1, "m", (), None)
    assert all(f.filter(info) for _ in range(3))


def test_the_limiter_keys_on_what_a_warning_is_about(monkeypatch: object) -> None:
    import agent.logs as logs

    monkeypatch.setattr(logs.time, "monotonic", lambda: 0.0)  # type: ignore[attr-defined]
    f = RateLimit(window=60)

    def rec(*args: object, **extra: object) -> logging.LogRecord:
        r = logging.LogRecord("agent", logging.WARNING, __file__, 1, "source %s failed: %s",
                              args, None)
        r.__dict__.update(extra)
        return r

    sources = ["cpu", "disk", "load", "memory", "network", "paging"]
    assert all(f.filter(rec(s, "EACCES")) for s in sources)  # six sources: six warnings
    assert not any(f.filter(rec(s, "EACCES")) for s in sources)  # each once a minute
    counted = logging.LogRecord("agent", logging.WARNING, __file__, 1,
                                "%s has %d series", ("m", 5), None)
    assert f.filter(counted)
    again = logging.LogRecord("agent", logging.WARNING, __file__, 1, "%s has %d series",
                              ("m", 6), None)
    assert not f.filter(again)  # a count is no new subject
    assert f.filter(rec(1, 2, subject=7)) and not f.filter(rec(3, 4, subject=7))
    assert f.filter(rec(1, 2, subject=8))  # named by the caller: pid 8 is not pid 7
