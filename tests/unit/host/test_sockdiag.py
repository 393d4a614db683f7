"""Sockets by state through netlink sock_diag, against /proc/net's tables."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from agent.host import procfs, sockdiag


def test_netlink_and_proc_agree_on_listening_sockets() -> None:
    listeners = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        listeners.append(s)
    try:
        via_netlink = sockdiag.count_sockets()[("tcp", "listen")]
        via_proc = procfs.count_sockets("/proc/net")[("tcp", "listen")]
        assert via_netlink == via_proc >= 3
    finally:
        for s in listeners:
            s.close()


def test_sees_our_own_namespace_through_any_process_in_it(tmp_path: Path) -> None:
    assert sockdiag.sees(f"/proc/{os.getpid()}/net")
    (tmp_path / "sockstat").write_text("sockets: used 1\n")  # a copy is not the namespace
    assert not sockdiag.sees(str(tmp_path))
    assert not sockdiag.sees(str(tmp_path / "missing"))


def test_does_not_see_another_network_namespace() -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) here")
    child = subprocess.Popen([unshare, "--net", "sleep", "60"], stderr=subprocess.DEVNULL)
    try:
        mine = os.readlink("/proc/self/ns/net")
        theirs = f"/proc/{child.pid}/ns/net"
        # unshare execs sleep once the namespace is made; fails at once where not permitted
        while child.poll() is None and _link(theirs) in (None, mine):
            time.sleep(0.01)
        if child.poll() is not None:
            pytest.skip("no permission to make a network namespace here")
        assert not sockdiag.sees(f"/proc/{child.pid}/net")
    finally:
        child.kill()
        child.wait()


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None
