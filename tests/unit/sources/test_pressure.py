"""pressure against the fixture host root (tests/fixtures/hostroot/proc/pressure/*)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.rig import Rig, by, observe

STALL = "system.linux.pressure.stall_type"


def test_stall_seconds_by_type() -> None:
    rig = Rig().cycle()
    # the system-wide `cpu full` line is left out: the kernel defines it for cgroups only
    assert by(rig.points("pressure", "system.cpu.linux.pressure.total"), STALL) == {
        "some": 12.5}
    assert by(rig.points("pressure", "system.memory.linux.pressure.total"), STALL) == {
        "some": 3.0, "full": 1.5}
    assert by(rig.points("pressure", "system.io.linux.pressure.total"), STALL) == {
        "some": 45.0, "full": 20.0}
    assert rig.source("pressure").figures() == {"pressure": {
        "cpu": {"some": 12.5}, "memory": {"some": 3.0, "full": 1.5},
        "io": {"some": 45.0, "full": 20.0}}}


def test_a_kernel_without_psi_reports_nothing(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "stat").write_text("cpu  1 0 1 1 0 0 0 0 0 0\n")
    assert observe("pressure", "system.cpu.linux.pressure.total", tmp_path) == {}
    rig = Rig(tmp_path).cycle()
    assert rig.points("pressure", "system.io.linux.pressure.total") == {}
    assert rig.source("pressure").figures() == {"pressure": None}
