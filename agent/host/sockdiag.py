"""Count sockets by state through netlink sock_diag (what `ss` uses).

The kernel hands over a small binary record per socket instead of formatting a text line, and
here it answered a full TCP+UDP dump in ~0.3 ms where /proc/net/tcp took ~5 ms (reading that
file walks the whole connection hash table). It sees the network namespace the agent runs in,
so a host root is read through it only when the host's pid 1 shares that namespace (a DaemonSet
with hostNetwork, a plain process reading /), and otherwise from <root>/proc/1/net/*.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

NETLINK_SOCK_DIAG = 4
TCPDIAG_GETSOCK = 18  # the original request: one walk returns IPv4 and IPv6 TCP sockets
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
_HDR = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBBI48x")  # inet_diag_req_v2 with an empty socket id
_REQ_V1 = struct.Struct("=BBBB48xII")  # inet_diag_req: family, lengths, ext, id, states, dbs
# The real TCP states, 1-12. Not the all-ones mask: since Linux 6.5 bit 13 asks for the
# TCP_BOUND_INACTIVE pseudo-state (bound, neither listening nor connected), which costs a walk
# of the bind hash table too and lists sockets that /proc/net/tcp (and so the hostmetrics
# receiver) does not.
TCP_STATES_MASK = 0x1FFE

# kernel TCP states (include/net/tcp_states.h) as network.connection.state values
STATES = {1: "established", 2: "syn_sent", 3: "syn_received", 4: "fin_wait_1",
          5: "fin_wait_2", 6: "time_wait", 7: "closed", 8: "close_wait", 9: "last_ack",
          10: "listen", 11: "closing", 12: "syn_received"}


def sees(net_dir: str) -> bool:
    """Whether netlink here sees the network namespace whose /proc/<pid>/net is `net_dir`.
    Each namespace has its own /proc/net entries, numbered from one kernel-wide sequence
    whatever the procfs mount, so the same inode number is the same namespace; unlike
    /proc/<pid>/ns/net, this needs no right to inspect the other process (CAP_SYS_PTRACE)."""
    try:
        return os.stat(f"{net_dir}/sockstat").st_ino == os.stat("/proc/self/net/sockstat").st_ino
    except OSError:
        return False


def _dump(sock: socket.socket, family: int, protocol: int, seq: int) -> dict[int, int]:
    if protocol == socket.IPPROTO_TCP and family == socket.AF_UNSPEC:
        kind, req = TCPDIAG_GETSOCK, _REQ_V1.pack(0, 0, 0, 0, TCP_STATES_MASK, 0)
    else:
        kind, req = SOCK_DIAG_BY_FAMILY, _REQ.pack(family, protocol, 0, 0, 0xFFFFFFFF)
    sock.send(_HDR.pack(_HDR.size + len(req), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + req)
    counts: dict[int, int] = {}
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + _HDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _HDR.unpack_from(data, off)
            if kind == NLMSG_DONE:
                return counts
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", data, off + _HDR.size)[0]
                if code == errno.ENOENT:  # no such protocol family (IPv6 off): none
                    return counts
                raise OSError(code, os.strerror(code))
            state = data[off + _HDR.size + 1]
            counts[state] = counts.get(state, 0) + 1
            off += (length + 3) & ~3
            if length == 0:
                raise OSError(errno.EPROTO, "malformed netlink message")


class SocketCounter:
    """Counts sockets by (transport, state) over one netlink socket kept for the agent's life
    (no socket set-up per cycle, and a steady descriptor count)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = 0

    def count(self, udp: bool = True) -> dict[tuple[str, str | None], int]:
        """{(transport, state): count}; UDP sockets carry no state. udp=False: TCP alone."""
        if self._sock is None:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
            self._sock.settimeout(2.0)
        out: dict[tuple[str, str | None], int] = {}
        # The kernel walks the whole TCP hash table per dump (the cost here), so TCP is asked
        # for once for both families; UDP per family (its table is small).
        try:
            for family, proto in DUMPS if udp else DUMPS[:1]:
                self._seq += 1
                tcp = proto == socket.IPPROTO_TCP
                for state, n in _dump(self._sock, family, proto, self._seq).items():
                    key = ("tcp", STATES.get(state, "unknown")) if tcp else ("udp", None)
                    out[key] = out.get(key, 0) + n
        except OSError:
            self.close()  # a half-read dump must not confuse the next one
            raise
        return out

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


DUMPS = ((socket.AF_UNSPEC, socket.IPPROTO_TCP), (socket.AF_INET, socket.IPPROTO_UDP),
         (socket.AF_INET6, socket.IPPROTO_UDP))


def count_sockets() -> dict[tuple[str, str | None], int]:
    counter = SocketCounter()
    try:
        return counter.count()
    finally:
        counter.close()
