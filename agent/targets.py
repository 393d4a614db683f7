"""Which processes the per-process metrics describe: `self`, `pid:N`, `pidfile:PATH`,
`name:REGEX` (executable name) or `cmdline:REGEX` (the joined command line)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from agent.hostfs import psutil

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


def _read_pidfile(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:  # not written yet: the application has not started
        return None
    return int(text) if text.isdigit() else None


def resolve(targets: tuple[Target, ...]) -> list[int]:
    """The pids the targets name right now, each once, in target order."""
    pids: dict[int, None] = {}
    scan = [t for t in targets if t.pattern is not None]
    for t in targets:
        if t.kind == "self":
            pids[os.getpid()] = None
        elif t.kind == "pid":
            pids[int(t.value)] = None
        elif t.kind == "pidfile" and (pid := _read_pidfile(t.value)) is not None:
            pids[pid] = None
    if scan:  # one walk of the process table serves every pattern target
        for p in psutil().process_iter(["name", "cmdline"]):
            info = p.info
            for t in scan:
                subject = info["name"] if t.kind == "name" else " ".join(info["cmdline"] or ())
                if subject and t.pattern and t.pattern.search(subject):
                    pids[p.pid] = None
                    break
    return list(pids)
