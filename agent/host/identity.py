"""Who a process is, as the semantic conventions identify it: its pid and its creation time (a
pid the kernel reuses is another process), with its executable name and command. Read once per
process, not per cycle; anything that follows processes (targets, a walk of the process table)
asks here."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from agent.host.reader import Reader

_DELETED = " (deleted)"  # the kernel's mark on an executable replaced since it started


@dataclass(frozen=True, slots=True)
class Identity:
    pid: int
    created: int  # ns since the epoch
    creation_time: str  # process.creation.time: ISO 8601, UTC, milliseconds
    executable: str  # process.executable.name
    command: str  # process.command: the first word of the command line
    name: str  # the name ps and psutil show (comm, completed from the command line)
    owner: str | None = None  # process.owner, read only when asked for
    parent_pid: int | None = None  # process.parent_pid, read only when asked for


def iso8601(ns: int) -> str:
    """`2023-11-21T09:25:34.853Z`: the conventions' format for process.creation.time."""
    seconds, ms = divmod(ns // 1_000_000, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def executable_name(target: str | None, fallback: str) -> str:
    """The base name of /proc/<pid>/exe's target, as the conventions define
    process.executable.name; `fallback` (the comm name) where it cannot be read (another
    user's process, a kernel thread)."""
    if not target:
        return fallback
    return os.path.basename(target.removesuffix(_DELETED)) or fallback


class Identities:
    """The identity of each process seen, read once per (pid, creation time). The owner and
    the parent, where asked for, are read with it and kept: as they were when the process was
    first seen, so a process re-parented (its parent exited) or changing user keeps its series."""

    def __init__(self, read: Reader, owner: bool = False, parent: bool = False) -> None:
        self._read = read
        self._owner, self._parent = owner, parent
        self._known: dict[int, Identity] = {}

    def of(self, pid: int, created: int) -> Identity:
        """Raises what the reader raises for a process that is gone or not ours to read."""
        known = self._known.get(pid)
        if known is not None and known.created == created:
            return known
        name, cmdline = self._read.process_name(pid)
        exe = self._read.process_exe(pid)
        owner = self._read.process_owner(pid) if self._owner else None
        parent = self._read.process_parent(pid) if self._parent else None
        identity = Identity(pid, created, iso8601(created), executable_name(exe, name),
                            cmdline[0], name, owner, parent)
        self._known[pid] = identity
        return identity

    def forget(self, pids: Iterable[int]) -> None:
        for pid in pids:
            self._known.pop(pid, None)
