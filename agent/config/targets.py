"""Process targets as written in ADK_AGENT_PROCESSES: `self`, `pid:N`, `pidfile:PATH`,
`name:REGEX` (the process name ps and psutil show), `cmdline:REGEX` (the joined command
line), and `top:cpu:N` / `top:memory:N` (the N processes using the most CPU since the previous
cycle, or the most resident memory)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("self", "pid", "pidfile", "name", "cmdline", "top")
RANKS = ("cpu", "memory")  # what top: ranks by
FORMS = "self, pid:N, pidfile:PATH, name:REGEX, cmdline:REGEX, top:cpu:N, top:memory:N"
# What ADK_AGENT_PROCESS_ATTRIBUTES may add to every process's identity attributes
OPTIONAL_PROCESS_ATTRIBUTES = ("process.owner", "process.parent_pid")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    value: str = ""
    pattern: re.Pattern[str] | None = None
    count: int = 0  # top: how many processes


def parse_target(text: str) -> Target:
    """Parse one target; ValueError says what is wrong with it."""
    text = text.strip()
    if text == "self":
        return Target("self")
    kind, sep, value = text.partition(":")
    if not sep or kind not in KINDS[1:]:
        raise ValueError(f"{text!r} is not one of {FORMS}")
    if not value:
        raise ValueError(f"{text!r} has nothing after '{kind}:'")
    if kind == "pid":
        if not value.isdigit() or int(value) <= 0:
            raise ValueError(f"{text!r}: a pid is a positive whole number")
        return Target(kind, value)
    if kind == "top":
        rank, _, count = value.partition(":")
        if rank not in RANKS:
            raise ValueError(f"{text!r}: top ranks by cpu or memory (top:cpu:N, top:memory:N)")
        if not (count.isascii() and count.isdigit()) or int(count) <= 0:
            raise ValueError(f"{text!r}: N in top:{rank}:N is a positive whole number")
        return Target(kind, rank, count=int(count))
    if kind in ("name", "cmdline"):
        try:
            return Target(kind, value, re.compile(value))
        except re.error as exc:
            raise ValueError(f"{text!r}: bad regular expression: {exc}") from None
    return Target(kind, value)


def top_counts(targets: Iterable[Target]) -> dict[str, int]:
    """How many processes each top: kind asks for (the largest N where one is repeated)."""
    counts: dict[str, int] = {}
    for t in targets:
        if t.kind == "top":
            counts[t.value] = max(counts.get(t.value, 0), t.count)
    return counts
