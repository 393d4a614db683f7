"""What `once` and `check` print for a person: aligned columns, integers whole, sizes, times and
ratios also in the units people read (`--format json` stays exact)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def number(value: float | int) -> str:
    """Integers whole (never 1.22794e+08), other values to four decimals, trailing zeros cut."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15):
        return str(int(value))
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def human(value: float | int, unit: str) -> str:
    """The value again in the unit a person reads, where that differs from the exact one."""
    if unit == "By" and abs(value) >= 1024:
        size, i = float(value), 0
        while abs(size) >= 1024 and i < len(BINARY) - 1:
            size, i = size / 1024, i + 1
        return f"{size:.1f} {BINARY[i]}"
    if unit == "1":
        return f"{value * 100:.1f} %"
    if unit == "s" and value >= 120:
        minutes, seconds = divmod(int(value), 60)
        hours, minutes = divmod(minutes, 60)
        days, hours = divmod(hours, 24)
        parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
        shown = [f"{n}{u}" for n, u in parts if n][:2]
        return " ".join(shown)
    if unit == "Hz" and value >= 1e6:
        return f"{value / 1e9:.2f} GHz" if value >= 1e9 else f"{value / 1e6:.0f} MHz"
    return ""


def table(rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    """Rows as aligned columns (those in `right` aligned right); the last column is not padded."""
    if not rows:
        return []
    right = set(right)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out


def points(metrics: Iterable[tuple[str, str, list[tuple[float | int, Mapping[str, Any]]]]]
           ) -> list[str]:
    """`once`: each metric with its unit, then a row per point — the value, the value for a
    person, the attributes (last, as they are the widest)."""
    groups = [(name, unit, [(number(v), human(v, unit), " ".join(
        f"{k}={val}" for k, val in attrs.items())) for v, attrs in observed])
        for name, unit, observed in metrics]
    rows = [r for _, _, group in groups for r in group]
    value_width = max((len(r[0]) for r in rows), default=0)
    human_width = max((len(r[1]) for r in rows), default=0)
    out = []
    empty = [name for name, _, group in groups if not group]
    for name, unit, group in groups:
        if not group:
            continue
        out.append(f"{name} ({unit})")
        for value, person, attrs in group:
            out.append(f"  {value.rjust(value_width)}  {person.ljust(human_width)}  {attrs}"
                       .rstrip())
    if empty:  # a source with nothing to report here (no containers, no swap...)
        out.append(f"no points this cycle: {', '.join(empty)}")
    return out


def show(value: Any, duration: bool = False) -> str:
    """A setting's value in one cell."""
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if duration and isinstance(value, int | float):
        return f"{value:g}s"
    if isinstance(value, dict):
        return ",".join(f"{k}={show(v, duration)}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def settings(values: Mapping[str, Any], origins: Mapping[str, str],
             durations: set[str]) -> list[str]:
    """`check`: one row per setting — name, where it came from, effective value."""
    rows = [("SETTING", "FROM", "VALUE")]
    for name, value in values.items():
        rows.append((name, origins.get(name, "default"), show(value, name in durations)))
    return table(rows)
