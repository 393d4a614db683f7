"""load against the fixture host root (tests/fixtures/hostroot/proc/loadavg)."""

from __future__ import annotations

from tests.unit.rig import Rig


def test_load_averages() -> None:
    rig = Rig().cycle()
    assert rig.points("load", "system.cpu.load_average.1m") == {(): 1.5}
    assert rig.points("load", "system.cpu.load_average.15m") == {(): 0.25}
    assert rig.points("load", "adk_system_load_average_5m") == {(): 0.75}
    assert rig.source("load").figures() == {"load": {"1m": 1.5, "5m": 0.75, "15m": 0.25}}
