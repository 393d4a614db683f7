"""processes against the fixture host root (proc/stat's summary lines)."""

from __future__ import annotations

from tests.unit.rig import Rig, by


def test_counts_by_state_and_created() -> None:
    rig = Rig().cycle()
    counts = by(rig.points("processes", "system.process.count"), "process.state")
    assert counts == {"running": 3, "blocked": 1}
    assert rig.points("processes", "system.process.created") == {(): 43210}
