"""What makes this machine look like a busy node while the benchmark measures: open TCP
connections and more processes (and, once the containers source exists, a tree of containers).
Everything is torn down on the way out, errors and Ctrl-C included."""

from __future__ import annotations

import os
import resource
import signal
import socket
import struct
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


@contextmanager
def sleepers(n: int) -> Iterator[list[int]]:
    """n sleeping child processes in one process group, killed on the way out (and ending by
    themselves after fifteen minutes whatever happens)."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            group = procs[0].pid if procs else 0
            procs.append(subprocess.Popen(["sleep", "900"], process_group=group,
                                          stdin=subprocess.DEVNULL))
        yield [p.pid for p in procs]
    finally:
        if procs:
            with suppress(ProcessLookupError):
                os.killpg(procs[0].pid, signal.SIGKILL)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


@contextmanager
def loopback_sockets(extra: int) -> Iterator[int]:
    """About `extra` open TCP sockets on 127.0.0.1: extra//2 established connections (both
    ends) and a listener. Yields how many were opened. Closed with a reset, so no TIME_WAIT
    sockets are left behind."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = extra + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    opened: list[socket.socket] = []
    try:
        if extra > 0:
            server = socket.socket()
            opened.append(server)
            server.bind(("127.0.0.1", 0))
            server.listen(128)
            for _ in range(extra // 2):
                client = socket.create_connection(server.getsockname(), timeout=5)
                opened.append(client)
                opened.append(server.accept()[0])
        yield len(opened)
    finally:
        abort = struct.pack("ii", 1, 0)  # SO_LINGER 0: reset
        for s in opened:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, abort)
            s.close()


@dataclass(frozen=True)
class Shape:
    sockets: int = 1000  # open TCP sockets, established loopback connections
    processes: int = 300  # sleeping child processes
    containers_root: Path | None = None  # pending: the containers source does not exist yet

    def describe(self) -> str:
        text = f"{self.sockets} more TCP sockets open, {self.processes} more processes"
        if self.containers_root:
            text += f", container fixture {self.containers_root} (not yet read by adk-agent)"
        return text


@contextmanager
def node(shape: Shape) -> Iterator[dict[str, int]]:
    """The host holds the shape's sockets and processes until the block ends."""
    with ExitStack() as stack:
        opened = stack.enter_context(loopback_sockets(shape.sockets))
        pids = stack.enter_context(sleepers(shape.processes))
        yield {"tcp_sockets_opened": opened, "processes_started": len(pids)}
