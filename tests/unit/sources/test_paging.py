"""paging against the fixture host root (meminfo's swap lines, vmstat)."""

from __future__ import annotations

from tests.unit.rig import Rig, by

KIB = 1024


def test_swap_faults_and_operations() -> None:
    rig = Rig().cycle()
    usage = by(rig.points("paging", "system.paging.usage"), "system.paging.state")
    assert usage == {"used": 500000 * KIB, "free": 1500000 * KIB}
    faults = by(rig.points("paging", "system.paging.faults"), "system.paging.fault.type")
    assert faults == {"minor": 9000000 - 1234, "major": 1234}
    ops = {(dict(k)["system.paging.direction"], dict(k)["system.paging.fault.type"]): v
           for k, v in rig.points("paging", "system.paging.operations").items()}
    assert ops[("in", "major")] == 333 and ops[("out", "minor")] == 222222
    assert rig.points("paging", "adk_system_swap_usage_percent") == {(): 25.0}
    assert rig.source("paging").figures() == {"swap": {
        "used_bytes": 500000 * KIB, "free_bytes": 1500000 * KIB, "usage_percent": 25.0}}
