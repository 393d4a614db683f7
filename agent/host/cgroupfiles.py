"""A node's cgroup files kept open from one cycle to the next (host/containers.py holds one
`Held` per pod and container while its cgroup exists), within a budget of descriptors."""

from __future__ import annotations

import os
from collections.abc import Collection
from contextlib import suppress
from stat import S_ISREG

from agent.host.cgroupstats import GONE, CgroupStats, check_names, parse_into, read_all


def _pread_all(fd: int) -> bytes:
    """The whole file again, from offset 0 (cgroupfs makes it afresh for a read there)."""
    data = os.pread(fd, 65536, 0)
    if len(data) == 65536:
        chunks = [data]
        while chunk := os.pread(fd, 65536, sum(map(len, chunks))):
            chunks.append(chunk)
        data = b"".join(chunks)
    return data


class Budget:
    """How many cgroup files may be held open at once: a share of the descriptors the process
    may open, so that holding them never starves the sockets and files everything else needs."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self.held = 0

    @classmethod
    def of_process(cls) -> Budget:
        """The process's one budget, made at first use (the runner has raised the soft limit
        by then): half of what RLIMIT_NOFILE leaves beyond 256 descriptors (384 at the usual
        1,024), shared by every Node a process makes (tests and benchmarks make many)."""
        global _PROCESS
        if _PROCESS is None:
            try:
                import resource

                soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
                if soft == resource.RLIM_INFINITY:
                    soft = 200_256
            except (ImportError, OSError, ValueError):
                soft = 256
            _PROCESS = cls(min((soft - 256) // 2, 100_000))
        return _PROCESS


_PROCESS: Budget | None = None


class Held:
    """One cgroup's files, kept open from one cycle to the next and read again from offset 0.
    On cgroupfs a read of an open file costs ~4 µs where opening, reading and closing it again
    costs ~10 (the path walk and kernfs' open and release), and for a container that is most
    of its cost. Files in `keep` are held while the budget allows; others (the limits, read
    once a minute) are opened for each read. A cgroup that is removed answers ENODEV on its
    open files: it reads as gone, as it does when its directory is not there."""

    __slots__ = ("_budget", "_fds", "keep", "path")

    def __init__(self, path: str, keep: Collection[str], budget: Budget) -> None:
        check_names(keep)
        self.path = path
        self.keep = keep
        self._budget = budget
        self._fds: dict[str, int] = {}

    def read(self, files: Collection[str]) -> CgroupStats | None:
        """As `read(path, files)`."""
        check_names(files)
        stats = CgroupStats()
        got = False
        for name in files:
            data = self._read(name)
            if data is not None:
                got = True
                parse_into(stats, name, data)
        return stats if got else None

    def _read(self, name: str) -> bytes | None:
        fd = self._fds.get(name)
        if fd is not None:
            try:
                return _pread_all(fd)
            except OSError as exc:
                self._drop(name)
                if exc.errno in GONE:
                    return None
                raise
        try:
            # non-blocking: a FIFO planted in a host root must not stall the cycle
            fd = os.open(f"{self.path}/{name}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in GONE:
                return None
            raise
        keep = False
        try:
            data = read_all(fd)
            keep = (name in self.keep and S_ISREG(os.fstat(fd).st_mode)
                    and self._budget.held < self._budget.limit)
            return data
        except OSError as exc:
            if exc.errno in GONE:
                return None
            raise
        finally:
            if keep:
                self._fds[name] = fd
                self._budget.held += 1
            else:
                os.close(fd)

    def _drop(self, name: str) -> None:
        os.close(self._fds.pop(name))
        self._budget.held -= 1

    def close(self) -> None:
        for name in list(self._fds):
            self._drop(name)

    def __del__(self) -> None:  # a Node dropped without close() (once, tests) gives them back
        with suppress(AttributeError, OSError):
            self.close()
