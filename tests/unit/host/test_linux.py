"""The Linux reader against the fixture host root: the shared /proc files are read once per
cycle however many sources use them, and nothing touches psutil."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import agent.host.procfs as procfs
from agent.host import sockdiag
from agent.host.cycle import Cycle
from agent.host.linux import LinuxReader
from agent.host.paths import HostFS
from agent.settings.load import load_config
from tests.unit.rig import HOSTROOT, Rig


def test_shared_files_are_read_once_per_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"stat": 0, "meminfo": 0}
    read_stat, read_keyed = procfs.read_stat, procfs.read_keyed

    def counting_stat(proc: str, per_cpu: bool = True) -> procfs.ProcStat:
        calls["stat"] += 1
        return read_stat(proc, per_cpu)

    def counting_keyed(path: str, *a: object, **k: object) -> dict[str, int]:
        calls["meminfo"] += path.endswith("meminfo")
        return read_keyed(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(procfs, "read_stat", counting_stat)
    monkeypatch.setattr(procfs, "read_keyed", counting_keyed)
    rig = Rig(metric_schema="both")
    sources = [rig.source(n) for n in ("cpu", "processes", "system", "memory", "paging")]
    for _ in range(2):
        rig.cycle()
        calls.update(stat=0, meminfo=0)
        for src in sources:
            for observer in src.observers().values():
                list(observer())
        assert calls == {"stat": 1, "meminfo": 1}


def test_the_linux_reader_never_uses_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # any import of it now fails
    rig = Rig("/", processes="self,name:^nothing-runs-under-this-name$")
    for name in ("cpu", "memory", "disk", "network", "process", "filesystem"):
        for observer in rig.cycle().source(name).observers().values():
            list(observer())
    assert rig.points("process", "process.thread.count")


def test_a_host_root_in_our_network_namespace_counts_sockets_through_netlink(
        tmp_path: Path) -> None:
    # A DaemonSet with hostNetwork, or a host root that is this machine: pid 1's /proc/net
    # is our namespace's, so the cheap netlink walk counts the right sockets.
    (tmp_path / "proc").symlink_to("/proc")
    host = HostFS(str(tmp_path))
    assert host.contained
    reader = LinuxReader(host, Cycle(), load_config(exporter="none"))
    assert reader._netlink == sockdiag.sees("/proc/1/net")
    fixture = LinuxReader(HostFS(str(HOSTROOT)), Cycle(), load_config(exporter="none"))
    assert not fixture._netlink  # a fixture's /proc/1/net is files: read those
