"""Sockets by state against this machine's kernel: the counters move with real connections,
and agree with a sock_diag dump."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from agent.host import sockdiag, sockstat
from tests.harness import wait_until
from tests.unit.rig import Rig


@contextmanager
def connections(n: int) -> Iterator[list[socket.socket]]:
    """n established loopback connections (both ends), closed with a reset (no TIME_WAIT)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(n)
    opened = [server]
    try:
        for _ in range(n):
            opened.append(socket.create_connection(server.getsockname(), timeout=5))
            opened.append(server.accept()[0])
        yield opened
    finally:
        for s in opened:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()


def test_new_connections_show_in_the_next_cycle() -> None:
    rig = Rig("/", interval="1s")
    rig.cycle().context.read.sockets()
    walks = rig.context.read._states.walks  # type: ignore[attr-defined]
    with connections(20):
        counts = rig.cycle().context.read.sockets()
        # ActiveOpens moved, so this cycle walked, and saw our 40 ends
        assert rig.context.read._states.walks == walks + 1  # type: ignore[attr-defined]
        assert counts[("tcp", "established")] >= 40 and counts[("tcp", "listen")] >= 1


def test_udp_counters_agree_with_a_dump() -> None:
    """sockstat's UDP `inuse` counts exactly the sockets a sock_diag dump lists: bound ones
    (connected or not, IPv4 and IPv6), not a socket that was never bound."""
    opened = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    opened += [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        opened[0].bind(("127.0.0.1", 0))
        opened[1].bind(("0.0.0.0", 0))
        opened[2].connect(opened[0].getsockname())  # bound on connect
        opened[4].bind(("::1", 0))
        # opened[3] and opened[5] are never bound: in neither count
        counter = sockdiag.SocketCounter()

        def dump() -> int:
            return counter.count().get(("udp", None), 0)

        def agree() -> bool:  # other processes may open or close sockets meanwhile: retry
            before = dump()
            counted = sockstat.read_totals("/proc/net").udp
            return before == counted == dump() and counted >= 4

        try:
            assert wait_until(agree, timeout=10)
        finally:
            counter.close()
    finally:
        for s in opened:
            s.close()


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
