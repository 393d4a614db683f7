"""The Source contract's helpers: caches of names that churn stay bounded, a steady host's are
never cleared."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.pipeline import Agent
from agent.sources.base import Attrs, NameFilter
from tests.paths import HOSTROOT
from tests.unit.rig import config

HEADER = ("Inter-|   Receive |  Transmit\n"
          " face |bytes    packets errs drop fifo frame compressed multicast|bytes packets\n")
ROW = "{}: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n"


def test_a_steady_cache_is_kept_and_a_churning_one_is_bounded() -> None:
    steady, churn = Attrs("k"), Attrs("k")
    first = steady("a")
    for cycle in range(1000):
        assert steady("a") is first  # never cleared while its names stay
        steady.sweep()
        churn(cycle)
        churn.sweep()
    assert len(churn._cache) <= 2 * 1 + 64 + 1


def test_name_filter_verdicts_survive_clearing() -> None:
    f = NameFilter(("veth*", "eth0"), ("veth9*",))
    for n in range(500):
        assert f(f"veth{n}") is not str(n).startswith("9")
        f.sweep()
    assert f("eth0") and not f("lo") and len(f._cache) < 200


def test_interfaces_that_come_and_go_leave_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    dev = root / "proc" / "1" / "net" / "dev"
    agent = Agent(config(root, interval="1s", sources="network"))
    for cycle in range(400):  # a pod's veth every cycle, as on a busy Kubernetes node
        dev.write_text(HEADER + ROW.format("lo") + ROW.format(f"veth{cycle:05x}"))
        names = {a["network.interface.name"] for _, a in agent.collect()["system.network.io"]}
        assert names == {"lo", f"veth{cycle:05x}"}
    network = agent.sources["network"]
    assert len(network._nic._cache) < 150 and len(network._keep._cache) < 150
