"""system against the fixture host root (btime in proc/stat)."""

from __future__ import annotations

import time

import pytest

from tests.unit.rig import Rig


def test_uptime_from_the_boot_time_and_the_info_metric() -> None:
    rig = Rig(service_version="1.2.3", git_commit="abc").cycle()
    (uptime,) = rig.points("system", "system.uptime").values()
    assert uptime == pytest.approx(time.time() - 1700000000, abs=5)
    assert rig.points("system", "adk_app_info") == {
        (("git_commit", "abc"), ("version", "1.2.3")): 1}
