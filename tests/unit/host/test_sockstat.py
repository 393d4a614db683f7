"""The kernel's socket counters (/proc/net/sockstat, sockstat6, snmp) and the per-state walk
they spare, against the fixture host root; cycles run by hand."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from agent.host import sockstat
from tests.paths import HOSTROOT
from tests.unit.rig import Rig

NET = "proc/1/net"  # the fixture is another host root: its sockets are read through pid 1


def fixture_copy(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


class Cycles:
    """The Linux reader's sockets, one collection cycle per call."""

    def __init__(self, root: Path | str, interval: str = "10s") -> None:
        self.rig = Rig(root, interval=interval)

    def counts(self, cycles: int = 1) -> dict[tuple[str, str | None], int]:
        for _ in range(cycles - 1):
            self.rig.cycle()
        return self.rig.cycle().context.read.sockets()

    @property
    def walks(self) -> int:
        return self.rig.context.read._states.walks  # type: ignore[attr-defined]


def test_read_totals_from_the_fixture() -> None:
    t = sockstat.read_totals(str(HOSTROOT / NET))
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


def test_udp_is_counted_from_the_counters_and_tcp_from_a_walk(tmp_path: Path) -> None:
    root = fixture_copy(tmp_path)
    edit(root / NET / "sockstat", "UDP: inuse 2", "UDP: inuse 7")  # proc/1/net/udp lists 2
    c = Cycles(root)
    counts = c.counts()
    assert counts[("udp", None)] == 7
    assert counts[("tcp", "listen")] == 3 and counts[("tcp", "established")] == 2
    edit(root / NET / "sockstat", "UDP: inuse 7", "UDP: inuse 0")
    assert ("udp", None) not in c.counts()  # no UDP sockets: no series, as before


def test_states_are_walked_again_only_when_the_counters_move(tmp_path: Path) -> None:
    root = fixture_copy(tmp_path)
    tcp = root / NET / "tcp"
    c = Cycles(root, interval="10s")  # a walk at least every 6 cycles: a minute
    assert c.counts()[("tcp", "established")] == 2 and c.walks == 1
    # A socket moves ESTABLISHED -> CLOSE_WAIT: no counter moves, the last walk stands
    edit(tcp, "0A000003:C351 01", "0A000003:C351 08")
    counts = c.counts()
    assert counts[("tcp", "established")] == 2 and ("tcp", "close_wait") not in counts
    assert c.walks == 1
    # ... until the walk is a minute old: cycles 3 to 6 keep it, cycle 7 walks
    assert c.counts(4)[("tcp", "established")] == 2 and c.walks == 1
    counts = c.counts()
    assert counts[("tcp", "close_wait")] == 1 and counts[("tcp", "established")] == 1
    assert c.walks == 2
    # A connection closes: CurrEstab moves, so the very next cycle walks
    edit(tcp, "0A000002:C350 01", "0A000002:C350 06")
    edit(root / NET / "snmp", "1 200 120000 -1 10 20 1 2 2 ", "1 200 120000 -1 10 20 1 2 1 ")
    counts = c.counts()
    assert c.walks == 3 and ("tcp", "established") not in counts
    assert counts[("tcp", "time_wait")] == 2
    for counter in ("TCP: inuse 4", "tw 1", "TCP6: inuse 1"):  # each one alone moves it too
        path = root / NET / ("sockstat6" if "6" in counter else "sockstat")
        edit(path, counter, counter[:-1] + "9")
        walks = c.walks
        c.counts()
        assert c.walks == walks + 1, counter


def test_at_an_interval_of_a_minute_or_more_every_cycle_walks(tmp_path: Path) -> None:
    c = Cycles(fixture_copy(tmp_path), interval="2m")
    for _ in range(3):
        c.counts()
    assert c.walks == 3


def test_unreadable_counters_mean_a_walk_every_cycle(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = fixture_copy(tmp_path)
    (root / NET / "sockstat").unlink()
    caplog.set_level(logging.INFO, "agent.host")
    c = Cycles(root)
    assert c.counts()[("udp", None)] == 2  # proc/1/net/udp, walked
    edit(root / NET / "tcp", "0A000003:C351 01", "0A000003:C351 08")
    assert c.counts()[("tcp", "close_wait")] == 1
    assert c.walks == 0
    lines = [r.getMessage() for r in caplog.records if "socket counters" in r.getMessage()]
    assert len(lines) == 1 and "sockstat" in lines[0]
