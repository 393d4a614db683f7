"""Paths under the host root."""

from __future__ import annotations

from agent.host.paths import HostFS
from tests.paths import HOSTROOT


def test_our_own_root() -> None:
    host = HostFS("/")
    assert not host.contained
    assert (host.proc, host.sys, host.net) == ("/proc", "/sys", "/proc/net")


def test_a_host_root_reads_the_hosts_network_namespace() -> None:
    host = HostFS(str(HOSTROOT))
    assert host.contained
    assert host.net == f"{HOSTROOT}/proc/1/net"  # pid 1's: the node's, without hostNetwork
    assert host.path("/etc/hostname") == f"{HOSTROOT}/etc/hostname"
