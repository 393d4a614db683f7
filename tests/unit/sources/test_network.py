"""network against the fixture host root (proc/1/net/*: the host's namespace)."""

from __future__ import annotations

from tests.unit.rig import Rig, observe


def test_interfaces_come_from_the_host_namespace() -> None:
    io = observe("network", "system.network.io")
    assert {dict(k)["network.interface.name"] for k in io} == {"lo", "ens5", "veth1234"}
    rx = {(dict(k)["network.interface.name"], dict(k)["network.io.direction"]): v
          for k, v in io.items()}
    assert rx[("ens5", "receive")] == 123456789 and rx[("ens5", "transmit")] == 987654321
    dropped = observe("network", "system.network.packet.dropped", interfaces_exclude="veth*")
    assert {dict(k)["network.interface.name"] for k in dropped} == {"lo", "ens5"}


def test_connection_counts_by_transport_and_state() -> None:
    conns = {tuple(v for _, v in k): n
             for k, n in observe("network", "system.network.connection.count").items()}
    assert conns[("listen", "tcp")] == 3  # two IPv4, one IPv6
    assert conns[("established", "tcp")] == 2
    assert conns[("time_wait", "tcp")] == 1
    assert conns[("udp",)] == 2


def test_totals_and_health_figures() -> None:
    rig = Rig().cycle()
    sent = rig.points("network", "adk_system_network_bytes_sent_total")[()]
    assert sent == 987654321 + 5000 + 200  # ens5, lo, veth1234
    assert rig.source("network").figures()["network"]["bytes_sent"] == sent
