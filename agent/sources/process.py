"""process: CPU, memory, faults, I/O, threads, descriptors and context switches of the target
processes (the agent itself unless ADK_AGENT_PROCESSES names others)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from agent import procfs
from agent.hostfs import psutil
from agent.snapshot import Memo, per_cycle
from agent.sources.base import LINUX, Attributes, Attrs, Context, Obs, Observer, Source
from agent.targets import parse_target, resolve

log = logging.getLogger(__name__)
Ids = dict[str, str | int]  # a process's identity attributes


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


@contextmanager
def _psutil_errors() -> Iterator[None]:
    """psutil's errors as the built-in ones the Linux reads raise, so one handler serves."""
    ps = psutil()
    try:
        yield
    except ps.NoSuchProcess as exc:
        raise ProcessLookupError(exc.pid) from None
    except ps.AccessDenied as exc:
        raise PermissionError(13, "permission denied", str(exc.pid)) from None


class ProcessSource(Source):
    name = "process"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._targets = tuple(parse_target(t) for t in ctx.processes)
        self._procs: dict[int, psutil.Process] = {}  # other platforms: psutil reads
        self._identities: dict[int, tuple[int, Ids, Ids]] = {}
        self._prev: dict[int, tuple[float, float, float]] = {}  # pid -> (wall, user, system)
        self._denied: set[tuple[int, str]] = set()  # (pid, what) already warned about
        self._ncpu = os.cpu_count() or 1
        self._ids = Attrs("process.pid", "process.executable.name", "process.command")
        self._adk_ids = Attrs("pid", "name")
        self._static = Memo(300.0)
        self._extra: dict[tuple[str | int, ...], dict[str, str | int]] = {}

    def with_attr(self, base: dict[str, str | int], key: str, value: str) -> Attributes:
        """The process's attributes plus one more, interned per series."""
        k = (*base.values(), key, value)
        attrs = self._extra.get(k)
        if attrs is None:
            attrs = self._extra[k] = {**base, key: value}
        return attrs

    def _optional(self, pid: int, what: str, read: Callable[[], object]) -> object | None:
        try:
            with nullcontext() if LINUX else _psutil_errors():
                return read()
        except PermissionError:
            if (pid, what) not in self._denied:
                self._denied.add((pid, what))
                log.warning("process %d: no permission to read its %s; skipped", pid, what)
            return None
        except (NotImplementedError, AttributeError):  # not on this platform
            return None

    def _identity(self, pid: int, starttime: int) -> tuple[Ids, Ids]:
        """Name and command of a process, read once per process (pid and start time)."""
        known = self._identities.get(pid)
        if known is not None and known[0] == starttime:
            return known[1], known[2]
        if LINUX:
            name, cmdline = procfs.read_pid_name(self.ctx.host.proc, pid)
        else:
            with _psutil_errors():
                p = psutil().Process(pid)
                name = p.name()
                cmdline = self._optional(pid, "command line", p.cmdline) or [""]
        ids = (self._ids(pid, name, cmdline[0]), self._adk_ids(pid, name))  # type: ignore[index]
        self._identities[pid] = (starttime, *ids)
        return ids

    def _sample_linux(self, pid: int) -> Sample:
        proc = self.ctx.host.proc
        st = procfs.read_pid_stat(proc, pid)
        attrs, adk = self._identity(pid, st.starttime)
        s = Sample(attrs, adk, st.user, st.system, st.rss, st.vsize,
                   st.threads, faults=(st.minflt, st.majflt))
        s.fds = self._optional(pid, "file descriptors",  # type: ignore[assignment]
                               lambda: procfs.count_pid_fds(proc, pid))
        s.io = self._optional(pid, "I/O counters",  # type: ignore[assignment]
                              lambda: procfs.read_pid_io(proc, pid))
        s.switches = self._optional(pid, "context switches",  # type: ignore[assignment]
                                    lambda: procfs.read_pid_switches(proc, pid))
        return s

    def _sample_psutil(self, pid: int) -> Sample:
        with _psutil_errors():
            return self._read_psutil(pid)

    def _read_psutil(self, pid: int) -> Sample:
        p = self._procs.get(pid)
        if p is None:
            p = self._procs[pid] = psutil().Process(pid)
        with p.oneshot():
            attrs, adk = self._identity(pid, int(p.create_time() * 1000))
            cpu = p.cpu_times()
            mem = p.memory_info()
            s = Sample(attrs, adk, cpu.user, cpu.system, mem.rss, mem.vms, p.num_threads())
            s.fds = self._optional(pid, "file descriptors", p.num_fds)  # type: ignore[assignment]
            io = self._optional(pid, "I/O counters", p.io_counters)
            if io is not None:
                s.io = (io.read_bytes, io.write_bytes)  # type: ignore[attr-defined]
            sw = self._optional(pid, "context switches", p.num_ctx_switches)
            if sw is not None:
                s.switches = (sw.voluntary, sw.involuntary)  # type: ignore[attr-defined]
        return s

    def _sample(self, pid: int, now: float) -> Sample:
        s = self._sample_linux(pid) if LINUX else self._sample_psutil(pid)
        prev = self._prev.get(pid)
        self._prev[pid] = (now, s.user, s.system)
        if prev is not None and now > prev[0]:
            span = (now - prev[0]) * self._ncpu
            s.utilization = (max(s.user - prev[1], 0) / span, max(s.system - prev[2], 0) / span)
        return s

    @per_cycle
    def samples(self) -> list[Sample]:
        now = time.monotonic()
        out = []
        pids = resolve(self._targets)
        for pid in pids:
            try:
                out.append(self._sample(pid, now))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass  # exited: it leaves the next export quietly
            except PermissionError:
                if (pid, "process") not in self._denied:
                    self._denied.add((pid, "process"))
                    log.warning("process %d: no permission to read it; skipped", pid)
        gone = self._prev.keys() - set(pids)
        if gone:  # forget everything kept per process, or churning targets would pile up
            for pid in gone:
                self._procs.pop(pid, None)
                self._prev.pop(pid, None)
                self._identities.pop(pid, None)
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
            "process.disk.io": self._pair("io", "disk.io.direction", ("read", "write")),
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

    def _adk(self, pick: Callable[[Sample], float | int | None]) -> Observer:
        def observe() -> Iterator[Obs]:
            for s in self.samples():
                value = pick(s)
                if value is not None:
                    yield value, s.adk
        return observe

    def _memory_total(self) -> int:
        return self._static.get("total", lambda: self.ctx.shared.meminfo()["MemTotal"]
                                if LINUX else psutil().virtual_memory().total)
