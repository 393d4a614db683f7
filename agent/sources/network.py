"""network: bytes, packets, errors and drops per interface; sockets by transport and state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from agent import procfs, sockdiag, sockstat
from agent.hostfs import psutil
from agent.procfs import NetDev
from agent.snapshot import per_cycle
from agent.sources.base import LINUX, NO_ATTRS, Attrs, Context, Obs, Observer, Source

log = logging.getLogger(__name__)

# TCP sockets by state cost a walk of the kernel's connection table; it is redone when the
# kernel's socket counters moved, and otherwise at least this often (agent/sockstat.py).
STATES_MAX_AGE = 60.0


def _from_psutil() -> dict[str, NetDev]:
    return {nic: NetDev(c.bytes_recv, c.packets_recv, c.errin, c.dropin,
                        c.bytes_sent, c.packets_sent, c.errout, c.dropout)
            for nic, c in psutil().net_io_counters(pernic=True).items()}


class NetworkSource(Source):
    name = "network"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._nic = Attrs("network.interface.name", "network.io.direction")
        self._tcp = Attrs("network.transport", "network.connection.state")
        self._transport = Attrs("network.transport")
        # netlink sees our own network namespace: right unless reading another host root
        self._netlink = not ctx.host.contained
        self._counter = sockdiag.SocketCounter()
        self._totals: sockstat.Counters | None = sockstat.Counters(ctx.host.net)
        # Cycles come a little early or late: half an interval of slack (a cycle at 55 s walks
        # at a 10 s interval); an interval of a minute or more walks every cycle.
        self._states = sockstat.StatesCache(
            STATES_MAX_AGE, slack=min(ctx.interval, STATES_MAX_AGE) / 2)

    @per_cycle
    def interfaces(self) -> dict[str, NetDev]:
        per = procfs.read_net_dev(f"{self.ctx.host.net}/dev") if LINUX else _from_psutil()
        keep = self.ctx.interfaces
        return {nic: c for nic, c in per.items() if keep(nic)}

    @per_cycle
    def sockets(self) -> dict[tuple[str, str | None], int]:
        if LINUX:
            totals = self._read_totals()
            if totals is None:  # no counters to go by: walk every cycle
                return self._walk(udp=True)
            tcp = self._states.get(totals.tcp, lambda: self._walk(udp=False))
            return {**tcp, ("udp", None): totals.udp} if totals.udp else dict(tcp)
        counts: dict[tuple[str, str | None], int] = {}
        for c in psutil().net_connections(kind="inet"):
            transport = "tcp" if c.type == 1 else "udp"
            state = c.status.lower() if transport == "tcp" else None
            counts[(transport, state)] = counts.get((transport, state), 0) + 1
        return counts

    def _read_totals(self) -> sockstat.Totals | None:
        if self._totals is not None:
            try:
                return self._totals.read()
            except (OSError, ValueError) as exc:
                why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else exc
                log.info("socket counters unreadable (%s); counting sockets by state every "
                         "cycle", why)
                self._totals.close()
                self._totals = None
        return None

    def _walk(self, udp: bool) -> dict[tuple[str, str | None], int]:
        """Sockets by (transport, state): one walk of the kernel's tables."""
        if self._netlink:
            try:
                return self._counter.count(udp=udp)
            except OSError as exc:  # no sock_diag here (old kernel, seccomp): use /proc
                log.info("netlink sock_diag unavailable (%s); counting sockets from %s",
                         exc.strerror or exc, self.ctx.host.net)
                self._netlink = False
        counts = procfs.count_sockets(self.ctx.host.net)
        return counts if udp else {k: n for k, n in counts.items() if k[0] == "tcp"}

    def _pair(self, rx: str, tx: str) -> Callable[[], Iterator[Obs]]:
        def observe() -> Iterator[Obs]:
            for nic, c in self.interfaces().items():
                yield getattr(c, rx), self._nic(nic, "receive")
                yield getattr(c, tx), self._nic(nic, "transmit")
        return observe

    def _connections(self) -> Iterator[Obs]:
        for (transport, state), n in self.sockets().items():
            yield n, (self._transport(transport) if state is None else self._tcp(transport, state))

    def observers(self) -> dict[str, Observer]:
        return {
            "system.network.io": self._pair("rx_bytes", "tx_bytes"),
            "system.network.packet.count": self._pair("rx_packets", "tx_packets"),
            "system.network.errors": self._pair("rx_errs", "tx_errs"),
            "system.network.packet.dropped": self._pair("rx_drop", "tx_drop"),
            "system.network.connection.count": self._connections,
            "adk_system_network_bytes_sent_total": self._total("tx_bytes"),
            "adk_system_network_bytes_recv_total": self._total("rx_bytes"),
            "adk_system_network_packets_sent_total": self._total("tx_packets"),
            "adk_system_network_packets_recv_total": self._total("rx_packets"),
        }

    def _total(self, field: str) -> Observer:
        return lambda: [(sum(getattr(c, field) for c in self.interfaces().values()), NO_ATTRS)]
