"""process: CPU, memory, faults, I/O, threads, descriptors and context switches of the target
processes (the agent itself unless ADK_AGENT_PROCESSES names others, or asks for the top N by
CPU or memory: agent/host/top.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from agent.config.files import read_bytes
from agent.config.targets import Target, parse_target, top_counts
from agent.host.cycle import Memo, per_cycle
from agent.host.identity import Identities, Identity
from agent.host.top import Ranker
from agent.sources.base import (
    Attributes,
    Context,
    Figures,
    Kind,
    Metric,
    Obs,
    Observer,
    Schema,
    Source,
    Start,
    every_cycles,
)

log = logging.getLogger(__name__)
Ids = dict[str, str | int]  # a process's identity attributes
ProcessTable = Callable[[], Iterable[tuple[int, str, list[str]]]]
C, U, G, A = Kind.COUNTER, Kind.UPDOWN, Kind.GAUGE, Schema.ADK
# pid and creation time identify a process (the conventions' process entity); pid stays first
PROC = ("process.pid", "process.creation.time", "process.executable.name", "process.command")
DIR = "disk.io.direction"
APROC = ("pid", "name")


def _read_pidfile(path: str) -> int | None:
    try:
        text = read_bytes(path, 4096).strip()
    except OSError:  # not written yet (the application has not started), or not a file
        return None
    return int(text) if text.isdigit() else None


def resolve(targets: tuple[Target, ...], table: ProcessTable) -> list[int]:
    """The pids the targets name right now, each once, in target order (top: targets are
    the ranking's: ProcessSource.samples)."""
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
        for pid, name, cmdline in table():
            for t in scan:
                subject = name if t.kind == "name" else " ".join(cmdline)
                if subject and t.pattern and t.pattern.search(subject):
                    pids[pid] = None
                    break
    return list(pids)


@dataclass(slots=True)
class Sample:
    attrs: dict[str, str | int]
    adk: dict[str, str | int]  # the legacy catalog's pid and name
    user: float
    system: float
    rss: int
    vms: int
    threads: int
    fds: int | None = None
    io: tuple[int, int] | None = None
    switches: tuple[int, int] | None = None
    faults: tuple[int, int] | None = None
    utilization: tuple[float, float] | None = None


class ProcessSource(Source):
    name = "process"
    start = Start.PROCESS  # each process's counters begin at its creation
    metrics = (
        Metric("process.cpu.time", C, "s", "CPU seconds of the process", (*PROC, "cpu.mode")),
        Metric("process.cpu.utilization", G, "1",
               "CPU time since the previous cycle over elapsed time and CPUs",
               (*PROC, "cpu.mode")),
        Metric("process.memory.usage", U, "By", "Resident memory (RSS)", PROC),
        Metric("process.memory.virtual", U, "By", "Virtual memory (VMS)", PROC),
        Metric("process.paging.faults", C, "{fault}", "Page faults of the process",
               (*PROC, "system.paging.fault.type")),
        Metric("process.disk.io", C, "By", "Bytes read from and written to storage",
               (*PROC, DIR)),
        Metric("process.thread.count", U, "{thread}", "Threads of the process", PROC),
        Metric("process.unix.file_descriptor.count", U, "{file_descriptor}",
               "Open file descriptors", PROC),
        Metric("process.context_switches", C, "{context_switch}", "Context switches",
               (*PROC, "process.context_switch.type")),
        Metric("adk_process_cpu_usage_user_seconds", G, "s", "Total user CPU time of the process",
               APROC, schema=A),
        Metric("adk_process_cpu_usage_system_seconds", G, "s",
               "Total system CPU time of the process", APROC, schema=A),
        Metric("adk_process_cpu_usage_percent", G, "%",
               "Process CPU since the previous cycle, percent of one CPU (may exceed 100)",
               APROC, schema=A),
        Metric("adk_process_memory_rss_bytes", G, "By", "Resident memory of the process", APROC,
               schema=A),
        Metric("adk_process_memory_vms_bytes", G, "By", "Virtual memory of the process", APROC,
               schema=A),
        Metric("adk_process_memory_usage_percent", G, "%",
               "Resident memory as a percentage of system memory", APROC, schema=A),
        Metric("adk_process_page_faults", G, "{fault}",
               "Page faults of the process by type (minor, major)", (*APROC, "type"), schema=A),
        Metric("adk_process_threads", G, "{thread}", "Threads of the process", APROC, schema=A),
        Metric("adk_process_open_fds", G, "{file_descriptor}",
               "Open file descriptors of the process", APROC, schema=A),
        Metric("adk_process_io_read_bytes_total", G, "By",
               "Bytes the process read from storage", APROC, schema=A),
        Metric("adk_process_io_write_bytes_total", G, "By",
               "Bytes the process wrote to storage", APROC, schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._targets = tuple(parse_target(t) for t in ctx.config.processes)
        counts = top_counts(self._targets)
        self._ranker = Ranker(counts) if counts else None
        optional = ctx.config.process_attributes
        self._identities = Identities(ctx.read, owner="process.owner" in optional,
                                      parent="process.parent_pid" in optional)
        self._attrs: dict[int, tuple[Identity, Ids, Ids]] = {}  # pid -> its attribute sets
        # pid -> (wall, user, system, created): the last sample, for utilization
        self._prev: dict[int, tuple[float, float, float, int]] = {}
        # (pid, what) already warned about; what: a field, or None for the whole process
        self._denied: set[tuple[int, str | None]] = set()
        self._ranked_only: set[int] = set()  # chosen by top: alone, in the last cycle
        self._denied_ranked: set[str | None] = set()  # fields top: processes lacked
        self._ncpu = os.cpu_count() or 1
        self._static = Memo(ctx.cycle, every_cycles(300.0, ctx.config.interval))
        self._extra: dict[tuple[str | int, ...], dict[str, str | int]] = {}

    def with_attr(self, base: dict[str, str | int], key: str, value: str) -> Attributes:
        """The process's attributes plus one more, interned per series."""
        k = (*base.values(), key, value)
        attrs = self._extra.get(k)
        if attrs is None:
            attrs = self._extra[k] = {**base, key: value}
        return attrs

    def _warn_denied(self, pid: int, what: str | None) -> None:
        """Once per process and field (None: the whole process) for the processes targets
        name; once per field for all those top: alone chose (on a node every other user's
        process may be one, and they come and go)."""
        if pid in self._ranked_only:
            if what not in self._denied_ranked:
                self._denied_ranked.add(what)
                log.warning("processes chosen by top: that are not ours to read are %s (the "
                            "first: process %d); said once", f"reported without their {what}"
                            if what else "skipped", pid, extra={"subject": ("top", what)})
        elif (pid, what) not in self._denied:
            self._denied.add((pid, what))
            if what is None:
                log.warning("process %d: no permission to read it; skipped", pid,
                            extra={"subject": pid})
            else:
                log.warning("process %d: no permission to read its %s; skipped", pid, what,
                            extra={"subject": (pid, what)})

    def _optional(self, pid: int, what: str, read: Callable[[int], object]) -> object | None:
        try:
            return read(pid)
        except PermissionError:
            self._warn_denied(pid, what)
            return None
        except (NotImplementedError, AttributeError):  # not on this platform
            return None

    def _identity(self, pid: int, created: int) -> tuple[Ids, Ids]:
        """The process's attribute sets, built once per process (pid and creation time)."""
        identity = self._identities.of(pid, created)
        known = self._attrs.get(pid)
        if known is None or known[0] is not identity:
            attrs: Ids = dict(zip(PROC, (pid, identity.creation_time, identity.executable,
                                         identity.command), strict=True))
            if identity.owner is not None:
                attrs["process.owner"] = identity.owner
            if identity.parent_pid is not None:
                attrs["process.parent_pid"] = identity.parent_pid
            known = self._attrs[pid] = (identity, attrs, {"pid": pid, "name": identity.name})
        return known[1], known[2]

    def _sample(self, pid: int, now: float) -> Sample:
        read = self.read
        st = read.process_stat(pid)
        attrs, adk = self._identity(pid, st.created)
        s = Sample(attrs, adk, st.user, st.system, st.rss, st.vms, st.threads)
        if st.minflt is not None and st.majflt is not None:
            s.faults = (st.minflt, st.majflt)
        s.fds = self._optional(pid, "file descriptors", read.process_fds)  # type: ignore[assignment]
        s.io = self._optional(pid, "I/O counters", read.process_io)  # type: ignore[assignment]
        s.switches = st.switches or self._optional(  # type: ignore[assignment]
            pid, "context switches", read.process_switches)
        prev = self._prev.get(pid)
        self._prev[pid] = (now, s.user, s.system, st.created)
        if prev is not None and now > prev[0] and prev[3] == st.created:
            span = (now - prev[0]) * self._ncpu
            s.utilization = (max(s.user - prev[1], 0) / span, max(s.system - prev[2], 0) / span)
        return s

    @per_cycle
    def samples(self) -> list[Sample]:
        now = time.monotonic()
        out = []
        pids = resolve(self._targets, self.read.process_ids)
        if self._ranker is not None:  # then what top: chose, in rank order, each once
            named = set(pids)
            chosen = dict.fromkeys(p.pid for p in self._ranker.rank(self.read.process_walk()))
            self._ranked_only = chosen.keys() - named
            pids += [pid for pid in chosen if pid not in named]
        for pid in pids:
            try:
                out.append(self._sample(pid, now))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass  # exited: it leaves the next export quietly
            except PermissionError:
                self._warn_denied(pid, None)
        gone = self._prev.keys() - set(pids)
        if gone:  # forget everything kept per process, or churning targets would pile up
            self.read.forget(gone)
            for pid in gone:
                self._prev.pop(pid, None)
                self._attrs.pop(pid, None)
            self._identities.forget(gone)
            self._extra = {k: v for k, v in self._extra.items() if k[0] not in gone}
            self._denied = {d for d in self._denied if d[0] not in gone}
        return out

    def _each(self, pick: Callable[[Sample], Iterator[Obs]]) -> Observer:
        return lambda: (obs for s in self.samples() for obs in pick(s))

    def _pair(self, field: str, key: str, names: tuple[str, str]) -> Observer:
        def pick(s: Sample) -> Iterator[Obs]:
            pair = getattr(s, field)
            if pair is not None:
                yield pair[0], self.with_attr(s.attrs, key, names[0])
                yield pair[1], self.with_attr(s.attrs, key, names[1])
        return self._each(pick)

    def _single(self, field: str) -> Observer:
        def pick(s: Sample) -> Iterator[Obs]:
            value = getattr(s, field)
            if value is not None:
                yield value, s.attrs
        return self._each(pick)

    def _adk(self, pick: Callable[[Sample], float | int | None]) -> Observer:
        def observe() -> Iterator[Obs]:
            for s in self.samples():
                value = pick(s)
                if value is not None:
                    yield value, s.adk
        return observe

    def _memory_total(self) -> int:
        return self._static.get("total", lambda: self.read.memory().total)

    def observers(self) -> dict[str, Observer]:
        def cpu_time(s: Sample) -> Iterator[Obs]:
            yield s.user, self.with_attr(s.attrs, "cpu.mode", "user")
            yield s.system, self.with_attr(s.attrs, "cpu.mode", "system")

        def adk_faults(s: Sample) -> Iterator[Obs]:
            if s.faults is not None:
                yield s.faults[0], self.with_attr(s.adk, "type", "minor")
                yield s.faults[1], self.with_attr(s.adk, "type", "major")

        return {
            "process.cpu.time": self._each(cpu_time),
            "process.cpu.utilization": self._pair("utilization", "cpu.mode", ("user", "system")),
            "process.memory.usage": self._single("rss"),
            "process.memory.virtual": self._single("vms"),
            "process.paging.faults": self._pair("faults", "system.paging.fault.type",
                                                ("minor", "major")),
            "process.disk.io": self._pair("io", DIR, ("read", "write")),
            "process.thread.count": self._single("threads"),
            "process.unix.file_descriptor.count": self._single("fds"),
            "process.context_switches": self._pair("switches", "process.context_switch.type",
                                                   ("voluntary", "involuntary")),
            "adk_process_cpu_usage_user_seconds": self._adk(lambda s: s.user),
            "adk_process_cpu_usage_system_seconds": self._adk(lambda s: s.system),
            "adk_process_cpu_usage_percent": self._adk(
                lambda s: sum(s.utilization) * self._ncpu * 100 if s.utilization else None),
            "adk_process_memory_rss_bytes": self._adk(lambda s: s.rss),
            "adk_process_memory_vms_bytes": self._adk(lambda s: s.vms),
            "adk_process_memory_usage_percent": self._adk(
                lambda s: s.rss / total * 100 if (total := self._memory_total()) else None),
            "adk_process_page_faults": self._each(adk_faults),
            "adk_process_threads": self._adk(lambda s: s.threads),
            "adk_process_open_fds": self._adk(lambda s: s.fds),
            "adk_process_io_read_bytes_total": self._adk(lambda s: s.io and s.io[0]),
            "adk_process_io_write_bytes_total": self._adk(lambda s: s.io and s.io[1]),
        }

    def figures(self) -> Figures:
        samples: list[Sample] = self.memo.peek("samples") or []
        out: Figures = {"process": [{
            "pid": s.attrs["process.pid"], "name": s.attrs["process.executable.name"],
            "creation_time": s.attrs["process.creation.time"],
            "cpu_user_seconds": s.user, "cpu_system_seconds": s.system,
            "rss_bytes": s.rss, "vms_bytes": s.vms, "threads": s.threads, "open_fds": s.fds,
            "page_faults": None if s.faults is None else {"minor": s.faults[0],
                                                          "major": s.faults[1]},
        } for s in samples]}
        if samples and samples[0].attrs["process.pid"] not in self._ranked_only:
            # the first target (the agent itself by default), beside the host's CPU
            out["cpu"] = {"process_user_seconds": samples[0].user,
                          "process_system_seconds": samples[0].system}
        if self._ranker is not None:  # what top: chose in the last cycle, and by how much
            names = {s.attrs["process.pid"]: s.attrs["process.executable.name"] for s in samples}
            unit = {"cpu": "cpu_seconds", "memory": "rss_bytes"}
            out["process_top"] = {kind: [
                {"pid": p.pid, "name": names.get(p.pid), "rank": p.rank,
                 unit[kind]: round(p.value, 3)}
                for p in self._ranker.picks if p.kind == kind] for kind in self._ranker.counts}
        return out
