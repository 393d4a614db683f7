"""The metric catalog: every metric the agent can export, assembled from the rows each source
declares (agent/sources/<domain>.py) and the agent's own (agent/telemetry.py). Instruments, the README tables, `check`, the settings'
validation and the metric filters all derive from it."""

from __future__ import annotations

from dataclasses import replace

from agent import telemetry
from agent.config.plain import Config
from agent.sources import SOURCES
from agent.sources.base import Metric, Start, exported


def _assemble() -> tuple[Metric, ...]:
    rows: list[Metric] = []
    seen: dict[str, str] = {}
    for name, cls in SOURCES.items():
        for m in cls.metrics:
            if m.name in seen:
                raise ValueError(f"metric {m.name!r} is declared by both {seen[m.name]} and {name}")
            seen[m.name] = name
            rows.append(replace(m, source=name, start=m.start or cls.start))
    # the agent's report on itself counts from the agent's start
    return (*rows, *(replace(m, start=m.start or Start.AGENT) for m in telemetry.METRICS))


CATALOG: tuple[Metric, ...] = _assemble()
BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG}
# the host's sources, then the agent's report on itself
SOURCE_NAMES: tuple[str, ...] = (*SOURCES, telemetry.NAME)


def select(config: Config) -> list[Metric]:
    """The catalog rows to export: on by default or asked for, from sources that run."""
    return [m for m in CATALOG if exported(m, config)]
