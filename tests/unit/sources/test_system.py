"""system against the fixture host root (proc/uptime, btime in proc/stat)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.paths import HOSTROOT
from tests.unit.rig import Rig


def test_uptime_from_proc_uptime_and_the_info_metric() -> None:
    rig = Rig(service_version="1.2.3", git_commit="abc", metric_schema="both").cycle()
    # /proc/uptime to the hundredth, not the wall clock less the whole-second btime
    assert rig.points("system", "system.uptime") == {(): 12345.67}
    assert rig.points("system", "adk_system_uptime_seconds") == {(): 12345.67}
    assert rig.points("system", "adk_app_info") == {
        (("git_commit", "abc"), ("version", "1.2.3")): 1}


def test_the_boot_time_is_read_once_and_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    rig = Rig(root).cycle()
    assert rig.context.read.boot_time() == 1700000000.0
    stat = root / "proc" / "stat"
    # the kernel recomputes btime from the wall clock: a clock step moves it
    stat.write_text(stat.read_text().replace("btime 1700000000", "btime 1700000003"))
    rig.cycle()
    assert rig.context.read.boot_time() == 1700000000.0
