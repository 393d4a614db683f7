"""Sockets by state: UDP from the kernel's counters, TCP walked again only when they move."""

from __future__ import annotations

import logging
import shutil
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent import sockdiag, sockstat
from agent.hostfs import HostFS
from agent.sources import REGISTRY, Context
from agent.sources.network import STATES_MAX_AGE, NetworkSource
from tests.harness import wait_until

FIXTURE = Path(__file__).parent / "fixtures" / "hostroot"
NET = "proc/1/net"  # the fixture is another host root: its sockets are read through pid 1


def fixture_copy(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


class Cycles:
    """A network source whose cycles are run by hand, on a clock the test moves."""

    def __init__(self, root: Path | None, monkeypatch: pytest.MonkeyPatch,
                 interval: float = 10.0) -> None:
        self.now = 1000.0
        monkeypatch.setattr(sockstat.time, "monotonic", lambda: self.now)
        host = HostFS(str(root)) if root else HostFS()
        self.source = REGISTRY["network"](Context(host=host, interval=interval))
        assert isinstance(self.source, NetworkSource)

    def counts(self, after: float = 0.0) -> dict[tuple[str, str | None], int]:
        self.now += after
        self.source.memo.entries.clear()  # a new cycle
        return self.source.sockets()

    @property
    def walks(self) -> int:
        return self.source._states.walks


def test_read_totals_from_the_fixture() -> None:
    t = sockstat.read_totals(str(FIXTURE / NET))
    assert t.udp == 2
    # TCP in use v4, v6, TIME_WAIT, ActiveOpens, PassiveOpens, AttemptFails, EstabResets, CurrEstab
    assert t.tcp == (4, 1, 1, 10, 20, 1, 2, 2)


def test_totals_without_ipv6_and_broken_files(tmp_path: Path) -> None:
    root = fixture_copy(tmp_path)
    net = root / NET
    (net / "sockstat6").unlink()  # a kernel without IPv6
    t = sockstat.read_totals(str(net))
    assert t.udp == 2 and t.tcp[:2] == (4, 0)
    (net / "snmp").write_text("Ip: Forwarding\nIp: 1\n")
    with pytest.raises(ValueError, match="no TCP counters"):
        sockstat.read_totals(str(net))


def test_udp_is_counted_from_the_counters_and_tcp_from_a_walk(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    root = fixture_copy(tmp_path)
    edit(root / NET / "sockstat", "UDP: inuse 2", "UDP: inuse 7")  # proc/1/net/udp lists 2
    c = Cycles(root, monkeypatch)
    counts = c.counts()
    assert counts[("udp", None)] == 7
    assert counts[("tcp", "listen")] == 3 and counts[("tcp", "established")] == 2
    edit(root / NET / "sockstat", "UDP: inuse 7", "UDP: inuse 0")
    assert ("udp", None) not in c.counts(after=10)  # no UDP sockets: no series, as before


def test_states_are_walked_again_only_when_the_counters_move(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fixture_copy(tmp_path)
    tcp = root / NET / "tcp"
    c = Cycles(root, monkeypatch, interval=10.0)
    assert c.counts()[("tcp", "established")] == 2 and c.walks == 1
    # A socket moves ESTABLISHED -> CLOSE_WAIT: no counter moves, the last walk stands
    edit(tcp, "0A000003:C351 01", "0A000003:C351 08")
    counts = c.counts(after=10)
    assert counts[("tcp", "established")] == 2 and ("tcp", "close_wait") not in counts
    assert c.walks == 1
    # ... until the walk is a minute old (the first cycle past half an interval short of it)
    assert c.counts(after=STATES_MAX_AGE - 10 - 5.5)[("tcp", "established")] == 2
    assert c.walks == 1
    counts = c.counts(after=0.5)
    assert counts[("tcp", "close_wait")] == 1 and counts[("tcp", "established")] == 1
    assert c.walks == 2
    # A connection closes: CurrEstab moves, so the very next cycle walks
    edit(tcp, "0A000002:C350 01", "0A000002:C350 06")
    edit(root / NET / "snmp", "1 200 120000 -1 10 20 1 2 2 ", "1 200 120000 -1 10 20 1 2 1 ")
    counts = c.counts(after=10)
    assert c.walks == 3 and ("tcp", "established") not in counts
    assert counts[("tcp", "time_wait")] == 2
    for counter in ("TCP: inuse 4", "tw 1", "TCP6: inuse 1"):  # each one alone moves it too
        path = root / NET / ("sockstat6" if "6" in counter else "sockstat")
        edit(path, counter, counter[:-1] + "9")
        walks = c.walks
        c.counts(after=10)
        assert c.walks == walks + 1, counter


def test_at_an_interval_of_a_minute_or_more_every_cycle_walks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = Cycles(fixture_copy(tmp_path), monkeypatch, interval=120.0)
    c.counts()
    c.counts(after=119.0)  # a cycle a little early
    assert c.walks == 2
    c.counts(after=0.5)  # half a second after a walk: it stands
    assert c.walks == 2


def test_unreadable_counters_mean_a_walk_every_cycle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = fixture_copy(tmp_path)
    (root / NET / "sockstat").unlink()
    caplog.set_level(logging.INFO, "agent.sources.network")
    c = Cycles(root, monkeypatch)
    assert c.counts()[("udp", None)] == 2  # proc/1/net/udp, walked
    edit(root / NET / "tcp", "0A000003:C351 01", "0A000003:C351 08")
    assert c.counts(after=10)[("tcp", "close_wait")] == 1
    assert c.walks == 0
    lines = [r.getMessage() for r in caplog.records if "socket counters" in r.getMessage()]
    assert len(lines) == 1 and "sockstat" in lines[0]


# --- against this machine's kernel --------------------------------------------------------------

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


def test_new_connections_show_in_the_next_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    c = Cycles(None, monkeypatch, interval=1.0)
    c.counts()
    walks = c.walks
    with connections(20):
        counts = c.counts(after=1)
        # ActiveOpens moved, so this cycle walked, and saw our 40 ends
        assert c.walks == walks + 1
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
