"""Socket figures the kernel keeps as counters, read at constant cost whatever the host holds.

Counting TCP sockets by state has no counter: it is a walk of the kernel's whole connection
hash table (sock_diag or /proc/net/tcp alike), whose size follows the machine's memory, not the
number of sockets (262,144 buckets on a 24 GiB host: ~0.2 ms with 4 sockets, 1.3 ms on a slower
host). What the kernel does count per network namespace, at the cost of reading two small files:

  /proc/net/sockstat{,6}  UDP sockets (`inuse`: exactly the sockets in the UDP table, which a
                          dump or /proc/net/udp lists); TCP sockets hashed (`inuse`: listening,
                          connecting, established and closing ones) and in TIME_WAIT (`tw`);
  /proc/net/snmp          Tcp CurrEstab (ESTABLISHED + CLOSE_WAIT), ActiveOpens, PassiveOpens,
                          AttemptFails, EstabResets.

UDP counts come from the first. The TCP ones together tell whether a walk could show anything
new: a socket opened or closed, one entering or leaving ESTABLISHED or TIME_WAIT moves at least
one of them. `StatesCache` walks again when they moved, and otherwise at least once a minute
(in cycles), for the few transitions that move none of them (ESTABLISHED -> CLOSE_WAIT,
FIN_WAIT_1 -> FIN_WAIT_2 or CLOSING, half-open SYN_RECV requests coming and going).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

# The Tcp fields of /proc/net/snmp that move when a connection opens, closes or leaves ESTABLISHED
SNMP_TCP = (b"ActiveOpens", b"PassiveOpens", b"AttemptFails", b"EstabResets", b"CurrEstab")

Counts = dict[tuple[str, str | None], int]


@dataclass(frozen=True, slots=True)
class Totals:
    udp: int  # UDP sockets, IPv4 and IPv6
    tcp: tuple[int, ...]  # TCP in use (v4, v6), TIME_WAIT, then the SNMP_TCP fields


def _fields(data: bytes, prefix: bytes) -> dict[bytes, int]:
    """`PREFIX name value name value ...` (a sockstat line) as {name: value}."""
    at = data.find(prefix)
    if at < 0 or (at and data[at - 1] != 0x0A):  # a line's start only
        return {}
    end = data.find(b"\n", at)
    parts = data[at:end if end >= 0 else None].split()[1:]
    return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts) - 1, 2)}


def parse_totals(v4: bytes, v6: bytes, snmp: bytes, where: str) -> Totals:
    """Totals from the text of sockstat, sockstat6 (empty without IPv6) and snmp."""
    tcp4, tcp6 = _fields(v4, b"TCP:"), _fields(v6, b"TCP6:")
    udp = _fields(v4, b"UDP:").get(b"inuse", 0) + _fields(v6, b"UDP6:").get(b"inuse", 0)
    # /proc/net/snmp: a `Tcp:` line of names, then one of values
    lines = snmp[snmp.find(b"\nTcp:") + 1:].split(b"\n", 2)
    if len(lines) < 2 or not lines[1].startswith(b"Tcp:") or b"inuse" not in tcp4:
        raise ValueError(f"{where}: no TCP counters in sockstat or snmp")
    tcp = dict(zip(lines[0].split()[1:], lines[1].split()[1:], strict=False))
    return Totals(udp, (tcp4[b"inuse"], tcp6.get(b"inuse", 0), tcp4.get(b"tw", 0),
                        *(int(tcp.get(k, b"0")) for k in SNMP_TCP)))


class Counters:
    """Reads the totals of the network namespace whose /proc/net is `net_dir`, its three files
    kept open: reading an open /proc file again from offset 0 makes the kernel write it afresh
    for ~2 µs, where opening it again costs ~15 µs (the path walk through /proc/<pid>/net)."""

    FILES = ("sockstat", "sockstat6", "snmp")

    def __init__(self, net_dir: str) -> None:
        self.net_dir = net_dir
        self._fds: dict[str, int | None] | None = None

    def _open(self) -> dict[str, int | None]:
        fds: dict[str, int | None] = {}
        try:
            for name in self.FILES:
                try:
                    fds[name] = os.open(f"{self.net_dir}/{name}", os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    if name != "sockstat6":
                        raise
                    fds[name] = None  # no IPv6 in this kernel or namespace
        except OSError:
            for fd in fds.values():
                if fd is not None:
                    os.close(fd)
            raise
        return fds

    def read(self) -> Totals:
        if self._fds is None:
            self._fds = self._open()
        try:
            text = [_pread(fd) if fd is not None else b"" for fd in self._fds.values()]
        except OSError:
            self.close()
            raise
        return parse_totals(*text, where=self.net_dir)

    def close(self) -> None:
        for fd in (self._fds or {}).values():
            if fd is not None:
                os.close(fd)
        self._fds = None


def _pread(fd: int, size: int = 8192) -> bytes:
    data = os.pread(fd, size, 0)
    while len(data) == size:  # more than fitted: read it whole
        size *= 4
        data = os.pread(fd, size, 0)
    return data


def read_totals(net_dir: str) -> Totals:
    """One reading, files opened and closed."""
    counters = Counters(net_dir)
    try:
        return counters.read()
    finally:
        counters.close()


class StatesCache:
    """TCP counts by state from the last walk; walks again when the counters moved since, or
    when the last walk is `every` cycles old."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.walks = 0
        self._counts: Counts | None = None
        self._seen: tuple[int, ...] = ()
        self._at = 0

    def get(self, counters: tuple[int, ...], cycle: int, walk: Callable[[], Counts]) -> Counts:
        """`counters` must be read before the walk: a change between the two then shows as a
        change at the next cycle, and is walked for then."""
        if self._counts is None or counters != self._seen or cycle - self._at >= self.every:
            self._counts = walk()
            self._seen, self._at = counters, cycle
            self.walks += 1
        return self._counts
