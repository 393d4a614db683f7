"""Durations as people write them."""

from __future__ import annotations

import pytest

from agent.config.durations import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("10s", 10.0), ("1m", 60.0),
                                               ("1h", 3600.0), ("2.5", 2.5), (" 3 s ", 3.0),
                                               (7, 7.0), ("24h", 86400.0)])
def test_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1s", "1d", "fast", "nan", True, float("inf"),
                                  "25h", "10000000000", 1e10, "2562047788015216h"])
def test_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
