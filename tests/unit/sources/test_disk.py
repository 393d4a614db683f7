"""disk against the fixture host root (tests/fixtures/hostroot/proc/diskstats)."""

from __future__ import annotations

from tests.unit.rig import Rig, by, observe


def test_counters_and_filters() -> None:
    io = observe("disk", "system.disk.io")
    assert {dict(k)["system.device"] for k in io} == {"sda", "sda1", "nvme0n1"}  # no loop0
    assert io[(("disk.io.direction", "read"), ("system.device", "sda"))] == 20000 * 512
    busy = by(observe("disk", "system.disk.io_time"), "system.device")
    assert busy["sda"] == 7.0
    only = observe("disk", "system.disk.operations", disks_include="nvme*")
    assert {dict(k)["system.device"] for k in only} == {"nvme0n1"}


def test_whole_disk_totals_leave_partitions_out() -> None:
    rig = Rig().cycle()
    read = rig.points("disk", "adk_system_disk_read_bytes_total")[()]
    io = rig.points("disk", "system.disk.io")
    whole = sum(v for k, v in io.items() if dict(k)["system.device"] in ("sda", "nvme0n1")
                and dict(k)["disk.io.direction"] == "read")
    assert read == whole
    assert rig.source("disk").figures()["disk"]["read_bytes"] == read
