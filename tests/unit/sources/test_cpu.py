"""cpu against the fixture host root (tests/fixtures/hostroot/proc/stat, cpuinfo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.host.procfs import CLK_TCK
from tests.paths import HOSTROOT
from tests.unit.rig import Rig, by, observe


def test_time_by_mode() -> None:
    t = by(observe("cpu", "system.cpu.time"), "cpu.mode")
    assert t["user"] == 10000 / CLK_TCK
    assert t["idle"] == 80000 / CLK_TCK
    # the conventions' values only: softirq (300 ticks) is part of interrupt (200 ticks)
    assert t["interrupt"] == (200 + 300) / CLK_TCK
    assert set(t) == {"user", "nice", "system", "idle", "iowait", "interrupt", "steal"}
    assert sum(t.values()) == pytest.approx((10000 + 500 + 3000 + 80000 + 1000 + 200 + 300
                                             + 100) / CLK_TCK)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "root"
    shutil.copytree(HOSTROOT, dst)
    return dst


def test_utilization_from_the_change_between_cycles(root: Path) -> None:
    rig = Rig(root)
    cpu = rig.source("cpu")  # reads its starting point when built
    stat = root / "proc" / "stat"
    # 100 more ticks: 25 user, 75 idle
    stat.write_text(stat.read_text().replace("cpu  10000 500 3000 80000",
                                             "cpu  10025 500 3000 80075"))
    util = by(rig.observe("cpu", "system.cpu.utilization"), "cpu.mode")
    assert util["user"] == pytest.approx(0.25)
    assert util["idle"] == pytest.approx(0.75)
    assert sum(util.values()) == pytest.approx(1.0)
    assert cpu.figures()["cpu"]["usage_percent"] == 25.0


def test_time_never_goes_backwards(root: Path) -> None:
    rig = Rig(root)
    first = by(rig.observe("cpu", "system.cpu.time"), "cpu.mode")
    stat = root / "proc" / "stat"
    # iowait stepping back, as some kernels do
    stat.write_text(stat.read_text().replace(" 80000 1000 ", " 80000 990 "))
    second = by(rig.observe("cpu", "system.cpu.time"), "cpu.mode")
    assert second["iowait"] == first["iowait"] == 1000 / CLK_TCK


def test_per_cpu_series_carry_the_logical_number() -> None:
    points = observe("cpu", "system.cpu.time", per_cpu=True)
    assert {dict(k)["cpu.logical_number"] for k in points} == {0, 1}
    assert observe("cpu", "system.cpu.logical.count") == {(): 2}


def test_counts_and_frequency() -> None:
    rig = Rig()
    assert rig.observe("cpu", "system.cpu.physical.count") == {(): 2}
    hz = by(rig.points("cpu", "system.cpu.frequency"), "cpu.logical_number")
    assert hz == {0: 2_500_000_000.0, 1: 2_400_000_000.0}
    assert rig.source("cpu").figures()["cpu"]["count"] is None  # not read yet: not made up
    rig.points("cpu", "system.cpu.logical.count")
    assert rig.source("cpu").figures()["cpu"]["count"] == 2


def test_legacy_busy_percent_counts_iowait_as_idle_as_psutil_does(root: Path) -> None:
    rig = Rig(root, metric_schema="both")
    rig.source("cpu")
    stat = root / "proc" / "stat"
    # 100 more ticks: 25 user, 50 idle, 25 iowait (a sync-write load)
    stat.write_text(stat.read_text().replace("cpu  10000 500 3000 80000 1000",
                                             "cpu  10025 500 3000 80050 1025"))
    assert rig.observe("cpu", "adk_system_cpu_usage_percent") == {(): pytest.approx(25.0)}
    assert rig.points("cpu", "adk_system_cpu_usage_idle_percent") == {(): pytest.approx(50.0)}
    assert by(rig.points("cpu", "system.cpu.utilization"), "cpu.mode")["iowait"] == \
        pytest.approx(0.25)
    assert rig.source("cpu").figures()["cpu"] | {"count": None} == {
        "usage_percent": 25.0, "idle_percent": 50.0, "count": None}


def test_legacy_percentages_are_the_utilization() -> None:
    rig = Rig()
    assert rig.observe("cpu", "adk_system_cpu_usage_percent") == {}  # no window yet
    assert rig.points("cpu", "adk_system_cpu_count") == {(): 2}
