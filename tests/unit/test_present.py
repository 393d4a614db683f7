"""What `once` and `check` print for a person."""

from __future__ import annotations

import pytest

from agent.present import human, number, points, settings


@pytest.mark.parametrize(("value", "text"), [(122794000, "122794000"), (122794000.0, "122794000"),
                                             (0.25, "0.25"), (2.0 / 3, "0.6667"), (1e-9, "0"),
                                             (-3, "-3"), (1e20, "100000000000000000000")])
def test_numbers_are_whole_or_four_decimals_never_exponents(value: float, text: str) -> None:
    assert number(value) == text


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1023, "By", ""), (122794000, "By", "117.1 MiB"), (0.4948, "1", "49.5 %"),
    (800, "s", "13m 20s"), (90061, "s", "1d 1h"), (30, "s", ""), (2.5e9, "Hz", "2.50 GHz"),
    (3, "{cpu}", ""),
])
def test_units_a_person_reads(value: float, unit: str, text: str) -> None:
    assert human(value, unit) == text


def test_once_rows_align_their_values() -> None:
    lines = points([("system.memory.usage", "By", [(6132400128, {"system.memory.state": "used"}),
                                                   (9, {"system.memory.state": "free"})]),
                    ("system.cpu.utilization", "1", [])])
    assert lines[0] == "system.memory.usage (By)"
    assert lines[1].index("6132400128") + len("6132400128") == lines[2].index("9") + 1
    assert "5.7 GiB" in lines[1] and lines[1].endswith("system.memory.state=used")
    assert lines[3] == "no points this cycle: system.cpu.utilization"


def test_check_rows() -> None:
    lines = settings({"interval": 2.0, "sources": ["cpu", "memory"], "headers": {}},
                     {"interval": "--interval"}, {"interval"})
    assert lines[1].split() == ["interval", "--interval", "2s"]
    assert lines[2].split() == ["sources", "default", "cpu,memory"]
    assert lines[3].split() == ["headers", "default", "-"]
