"""processes against the fixture host root (proc/stat's summary lines)."""

from __future__ import annotations

from tests.unit.rig import Rig, by


def test_counts_by_state_and_created() -> None:
    rig = Rig().cycle()
    counts = by(rig.points("processes", "system.process.count"), "process.state")
    assert counts == {"running": 3, "blocked": 1}
    assert rig.points("processes", "system.process.created") == {(): 43210}


def test_with_a_top_target_the_walk_counts_by_the_conventions_states() -> None:
    rig = Rig(processes="top:memory:1").cycle()
    counts = by(rig.points("processes", "system.process.count"), "process.state")
    assert counts == {"running": 0, "sleeping": 1, "stopped": 0, "defunct": 0}  # proc/4242
    # without the process source nothing walks: /proc/stat's summary, as before
    rig = Rig(processes="top:memory:1", sources="processes").cycle()
    assert by(rig.points("processes", "system.process.count"), "process.state") == \
        {"running": 3, "blocked": 1}
