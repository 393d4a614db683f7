"""network: bytes, packets, errors and drops per interface; sockets by transport and state."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from agent.host.cycle import per_cycle
from agent.host.records import NetDev, SocketCounts
from agent.sources.base import (
    NO_ATTRS,
    Attrs,
    Context,
    Figures,
    Kind,
    Metric,
    NameFilter,
    Obs,
    Observer,
    Schema,
    Source,
)

C, G, A = Kind.COUNTER, Kind.GAUGE, Schema.ADK
NIC = ("network.interface.name", "network.io.direction")
TOTALS = (("adk_system_network_bytes_sent_total", "tx_bytes", "By", "Bytes sent"),
          ("adk_system_network_bytes_recv_total", "rx_bytes", "By", "Bytes received"),
          ("adk_system_network_packets_sent_total", "tx_packets", "{packet}", "Packets sent"),
          ("adk_system_network_packets_recv_total", "rx_packets", "{packet}",
           "Packets received"))


class NetworkSource(Source):
    name = "network"
    metrics = (
        Metric("system.network.io", C, "By", "Bytes sent and received", NIC),
        Metric("system.network.packet.count", C, "{packet}", "Packets sent and received", NIC),
        Metric("system.network.errors", C, "{error}", "Receive and transmit errors", NIC),
        Metric("system.network.packet.dropped", C, "{packet}", "Packets dropped", NIC),
        Metric("system.network.connection.count", Kind.UPDOWN, "{connection}",
               "Sockets by transport and TCP state",
               ("network.transport", "network.connection.state")),
        *(Metric(name, G, unit, f"{what}, all interfaces", schema=A)
          for name, _, unit, what in TOTALS),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        c = ctx.config
        self._keep = NameFilter(tuple(c.interfaces_include), tuple(c.interfaces_exclude))
        self._nic = Attrs(*NIC)
        self._tcp = Attrs("network.transport", "network.connection.state")
        self._transport = Attrs("network.transport")

    @per_cycle
    def interfaces(self) -> dict[str, NetDev]:
        return {nic: c for nic, c in self.read.interfaces().items() if self._keep(nic)}

    @per_cycle
    def sockets(self) -> SocketCounts:
        return self.read.sockets()

    def _pair(self, rx: str, tx: str) -> Callable[[], Iterator[Obs]]:
        def observe() -> Iterator[Obs]:
            for nic, c in self.interfaces().items():
                yield getattr(c, rx), self._nic(nic, "receive")
                yield getattr(c, tx), self._nic(nic, "transmit")
        return observe

    def _connections(self) -> Iterator[Obs]:
        for (transport, state), n in self.sockets().items():
            yield n, (self._transport(transport) if state is None else self._tcp(transport, state))

    def _total(self, field: str) -> Observer:
        return lambda: [(sum(getattr(c, field) for c in self.interfaces().values()), NO_ATTRS)]

    def observers(self) -> dict[str, Observer]:
        return {
            "system.network.io": self._pair("rx_bytes", "tx_bytes"),
            "system.network.packet.count": self._pair("rx_packets", "tx_packets"),
            "system.network.errors": self._pair("rx_errs", "tx_errs"),
            "system.network.packet.dropped": self._pair("rx_drop", "tx_drop"),
            "system.network.connection.count": self._connections,
            **{name: self._total(field) for name, field, _, _ in TOTALS},
        }

    def figures(self) -> Figures:
        nics = self.memo.peek("interfaces")
        return {"network": None if nics is None else {
            "bytes_sent": sum(c.tx_bytes for c in nics.values()),
            "bytes_recv": sum(c.rx_bytes for c in nics.values()),
            "packets_sent": sum(c.tx_packets for c in nics.values()),
            "packets_recv": sum(c.rx_packets for c in nics.values())}}
