"""What makes this machine look like a busy node while the benchmark measures: open TCP
connections, more processes, and a generated node of pods and containers that adk-agent reads
as its host root. Everything is torn down on the way out, errors and Ctrl-C included."""

from __future__ import annotations

import os
import resource
import signal
import socket
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    containers: int = 100  # workload containers of a generated node (4 per pod), for adk-agent

    def describe(self) -> str:
        text = f"{self.sockets} more TCP sockets open, {self.processes} more processes"
        if self.containers:
            text += (f", a node of {self.containers} containers in {self.containers // 4} pods "
                     "(cgroup v2 and kubelet log directories) that adk-agent reads as its host "
                     "root")
        return text


@contextmanager
def node(shape: Shape) -> Iterator[dict[str, Any]]:
    """The host holds the shape's sockets and processes until the block ends; `root`: the
    generated node's host root (its proc and etc this machine's), for adk-agent's
    ADK_AGENT_ROOT_PATH."""
    with ExitStack() as stack:
        opened = stack.enter_context(loopback_sockets(shape.sockets))
        pids = stack.enter_context(sleepers(shape.processes))
        held: dict[str, Any] = {"tcp_sockets_opened": opened, "processes_started": len(pids)}
        if shape.containers:
            from tests import cgroup_tree

            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="adk-node-")))
            cgroup_tree.host_root(root, pods=max(shape.containers // 4, 1), per_pod=4)
            held.update(root=str(root), containers=shape.containers)
        yield held
