"""Sockets by state: UDP from the kernel's counters, TCP walked again only when they move."""

from __future__ import annotations

import socket

from agent import sockdiag


def test_bound_sockets_that_neither_listen_nor_connect_are_not_counted() -> None:
    """Linux 6.5+ lists them in a dump for the all-ones state mask, as state CLOSE; /proc/net/tcp
    and the hostmetrics receiver do not."""
    bound = [socket.socket() for _ in range(3)]
    try:
        for s in bound:
            s.bind(("127.0.0.1", 0))
        assert ("tcp", "closed") not in sockdiag.count_sockets()
    finally:
        for s in bound:
            s.close()
