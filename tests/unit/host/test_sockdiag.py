"""Sockets by state through netlink sock_diag, against /proc/net's tables."""

from __future__ import annotations

import socket

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
