"""Print the README's metric and settings tables from the catalog and the settings model, so
the documentation cannot drift from the code (tests/test_readme.py holds them together)."""

from __future__ import annotations

import json
import sys

from agent.catalog import CATALOG
from agent.settings import PREFIX, Settings
from agent.settings.layers import STANDARD_ENV
from agent.sources.base import Metric, Schema

# as the semantic conventions name the instrument (OTLP: a monotonic Sum, a Sum, a Gauge)
_INSTRUMENT = {"counter": "Counter", "updowncounter": "UpDownCounter", "gauge": "Gauge"}


def metric_row(m: Metric) -> str:
    attrs = ", ".join(f"`{a}`" for a in m.attributes) or "—"
    on = "yes" if m.enabled else "no"
    return (f"| `{m.name}` | {_INSTRUMENT[m.kind]} | `{m.unit}` | {attrs} | {on} | "
            f"{m.source} | {m.description} |")


def metric_table(schema: Schema = Schema.SEMCONV) -> str:
    head = ("| metric | instrument | unit | attributes | default | source | meaning |\n"
            "|---|---|---|---|---|---|---|")
    return "\n".join([head, *(metric_row(m) for m in CATALOG if m.schema == schema)])


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None or value == {}:
        return "—"
    if isinstance(value, list):
        return "`" + ",".join(value) + "`" if value else "—"
    if name in ("interval", "export_timeout"):
        return f"`{value:g}s`"
    if name == "queue_max_bytes":
        return f"`{value >> 20}MiB`"
    return f"`{json.dumps(value) if isinstance(value, bool) else value}`"


def settings_table() -> str:
    rows = ["| variable | also | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        also = ", ".join(f"`{v}`" for v in STANDARD_ENV.get(name, ())) or "—"
        rows.append(f"| `{PREFIX}{name.upper()}` | {also} | {_default(name)} | "
                    f"{field.description or ''} |")
    return "\n".join(rows)


BLOCKS = {
    "settings": settings_table,
    "metrics-semconv": lambda: metric_table(Schema.SEMCONV),
    "metrics-adk": lambda: metric_table(Schema.ADK),
}


def render(text: str) -> str:
    """README text with every generated block between its markers replaced."""
    for name, make in BLOCKS.items():
        start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
        head, sep, rest = text.partition(start)
        if not sep:
            raise ValueError(f"README has no {start} marker")
        _, sep, tail = rest.partition(end)
        if not sep:
            raise ValueError(f"README has no {end} marker")
        text = f"{head}{start}\n{make()}\n{end}{tail}"
    return text


if __name__ == "__main__":
    # python -m agent.docs README.md: rewrite the generated tables in place
    path = sys.argv[1] if len(sys.argv) > 1 else "README.md"
    with open(path) as f:
        old = f.read()
    new = render(old)
    if new != old:
        with open(path, "w") as f:
            f.write(new)
