"""memory against the fixture host root (tests/fixtures/hostroot/proc/meminfo)."""

from __future__ import annotations

import pytest

from tests.unit.rig import Rig, by

KIB = 1024
TOTAL = 16000000 * KIB


def test_used_is_total_minus_available() -> None:
    rig = Rig()
    usage = by(rig.observe("memory", "system.memory.usage"), "system.memory.state")
    # the conventions' definition since v1.37: MemTotal - MemAvailable, not
    # total - free - buffers - cached (16000000 - 4000000 - 500000 - 5600000 kB)
    assert usage["used"] == (16000000 - 10000000) * KIB
    assert usage["free"] == 4000000 * KIB
    assert usage["buffers"] == 500000 * KIB
    assert usage["cached"] == (5000000 + 600000) * KIB  # Cached + SReclaimable
    # used overlaps what of buffers and cached cannot be reclaimed: more than the total
    assert sum(usage.values()) > TOTAL
    assert rig.points("memory", "system.memory.limit") == {(): TOTAL}
    assert rig.points("memory", "system.memory.linux.available") == {(): 10000000 * KIB}
    util = by(rig.points("memory", "system.memory.utilization"), "system.memory.state")
    assert util["used"] == pytest.approx(0.375)
    assert util == pytest.approx({s: v / TOTAL for s, v in usage.items()})


def test_legacy_used_and_the_health_figures_agree_with_the_conventions() -> None:
    rig = Rig()
    used = rig.observe("memory", "adk_system_memory_used_bytes")[()]
    assert used == TOTAL - 10000000 * KIB
    assert rig.points("memory", "system.memory.usage")[(("system.memory.state", "used"),)] == used
    assert rig.points("memory", "adk_system_memory_usage_percent") == {(): 37.5}
    assert rig.source("memory").figures() == {"memory": {
        "total_bytes": TOTAL, "used_bytes": used, "free_bytes": 4000000 * KIB,
        "available_bytes": 10000000 * KIB, "usage_percent": 37.5}}
