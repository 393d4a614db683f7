"""Process targets as written in ADK_AGENT_PROCESSES: `self`, `pid:N`, `pidfile:PATH`,
`name:REGEX` (the process name ps and psutil show) or `cmdline:REGEX` (the joined command
line)."""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("self", "pid", "pidfile", "name", "cmdline")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    value: str = ""
    pattern: re.Pattern[str] | None = None


def parse_target(text: str) -> Target:
    """Parse one target; ValueError says what is wrong with it."""
    text = text.strip()
    if text == "self":
        return Target("self")
    kind, sep, value = text.partition(":")
    if not sep or kind not in KINDS[1:]:
        raise ValueError(f"{text!r} is not one of self, pid:N, pidfile:PATH, name:REGEX, "
                         "cmdline:REGEX")
    if not value:
        raise ValueError(f"{text!r} has nothing after '{kind}:'")
    if kind == "pid":
        if not value.isdigit() or int(value) <= 0:
            raise ValueError(f"{text!r}: a pid is a positive whole number")
        return Target(kind, value)
    if kind in ("name", "cmdline"):
        try:
            return Target(kind, value, re.compile(value))
        except re.error as exc:
            raise ValueError(f"{text!r}: bad regular expression: {exc}") from None
    return Target(kind, value)
