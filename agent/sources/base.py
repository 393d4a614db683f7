"""The Source contract: what a source module declares, and what it is given.

A source is one class in one module of this package. It declares its `name`, its catalog rows
(`metrics`: name, instrument kind, unit, description, attribute keys, on by default or not,
schema) and, per row, an observer (`observers()`); it may add its part of the health document
(`figures()`). Its Sums count from the host's boot unless it declares another `start` (for the
class, or on a row). The package finds it (agent/sources/__init__.py): there is no list to
extend.

A source is built with a Context: the Config itself, the host's paths, the platform's reader
and the collection cycle. Its reads are memoised for the cycle
(`@per_cycle` on `self.memo`); a source with a slower interval keeps them for a whole number of
cycles.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from agent.config.plain import Config
from agent.host.cycle import Cycle, Memo, every_cycles
from agent.host.paths import HostFS
from agent.host.reader import Reader, choose

AttrValue = str | int
Attributes = Mapping[str, AttrValue]
Obs = tuple[float | int, Attributes]
Observer = Callable[[], Iterable[Obs]]
Figures = dict[str, Any]  # a source's part of the health document
NO_ATTRS: Attributes = {}


class Kind(StrEnum):
    COUNTER = "counter"  # monotonic total -> ObservableCounter
    UPDOWN = "updowncounter"  # an amount that can go down -> ObservableUpDownCounter
    GAUGE = "gauge"  # a ratio or level -> ObservableGauge


class Schema(StrEnum):
    SEMCONV = "semconv"
    ADK = "adk"


class Start(StrEnum):
    """When a Sum's count began: its points' start_time_unix_nano (gauges carry none)."""

    BOOT = "boot"  # the host's boot time, read once at start-up: the kernel's counters
    PROCESS = "process"  # the creation of the point's process (its process.creation.time)
    AGENT = "agent"  # the agent's start: its report on itself


@dataclass(frozen=True, slots=True)
class Metric:
    """One catalog row. `source`, and `start` where the row does not say, are filled in from
    the declaring source by the catalog."""

    name: str
    kind: Kind
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    enabled: bool = True
    schema: Schema = Schema.SEMCONV
    source: str = ""
    start: Start | None = None


def exported(m: Metric, config: Config) -> bool:
    """Whether a row is exported under `config`: on by default or asked for, not turned off,
    of the schema chosen and from a source that runs (the catalog selects with this; a source
    may ask it to read only what its exported rows need)."""
    schemas = ("semconv", "adk") if config.metric_schema == "both" else (config.metric_schema,)
    return (m.schema in schemas and m.source in config.sources
            and m.name not in config.metrics_disabled
            and (m.enabled or m.name in config.metrics_enabled))


@dataclass(frozen=True)
class Context:
    """What a source is given; built once at start-up."""

    config: Config
    host: HostFS
    read: Reader
    cycle: Cycle

    @classmethod
    def build(cls, config: Config) -> Context:
        host = HostFS(config.root_path)
        cycle = Cycle()
        return cls(config, host, choose(host, cycle, config), cycle)


class Forgetful:
    """A cache of what series need from cycle to cycle (interned attribute sets, filter
    verdicts) that cannot pile up when names churn: pids, veth interfaces, container mounts.

    At the end of a cycle (`sweep`), a cache that has grown past twice what it held in the
    cycle after its last clearing, plus a little, is cleared; the next cycle fills it again
    with what is still in use. A host whose names do not change never clears it; one whose
    names churn holds at most about twice its live names."""

    def __init__(self) -> None:
        self._cache: dict[Any, Any] = {}
        self._base: int | None = None  # its size one cycle after the last clearing

    def sweep(self) -> None:
        size = len(self._cache)
        if self._base is None:
            self._base = size
        elif size > 2 * self._base + 64:
            self._cache = {}
            self._base = None


class NameFilter(Forgetful):
    """Glob include/exclude lists: a name passes when it matches an include (or there are none)
    and no exclude. Verdicts are cached: device and interface names repeat every cycle."""

    def __init__(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.include = include
        self.exclude = exclude

    def __call__(self, name: str) -> bool:
        verdict = self._cache.get(name)
        if verdict is None:
            verdict = (not self.include or any(fnmatch.fnmatchcase(name, p) for p in self.include)
                       ) and not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)
            self._cache[name] = verdict
        return verdict


class Attrs(Forgetful):
    """Interns attribute dicts so a series reuses one dict across cycles."""

    def __init__(self, *keys: str) -> None:
        super().__init__()
        self.keys = keys

    def __call__(self, *values: AttrValue) -> dict[str, AttrValue]:
        attrs = self._cache.get(values)
        if attrs is None:
            attrs = self._cache[values] = dict(zip(self.keys, values, strict=True))
        return attrs


class Source:
    """A domain's reads (memoised per cycle) and the observers of its catalog rows."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[Metric, ...]]
    start: ClassVar[Start] = Start.BOOT  # when the counts of its Sums began

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.read = ctx.read
        interval = ctx.config.source_intervals.get(self.name, ctx.config.interval)
        self.memo = Memo(ctx.cycle, every_cycles(interval, ctx.config.interval))

    def observers(self) -> dict[str, Observer]:
        """An observer for each row of `metrics`."""
        raise NotImplementedError

    def figures(self) -> Figures:
        """This source's part of the health document, from what the last cycle read (never a
        read of its own: probes must cost nothing). Sections may be shared by sources."""
        return {}

    def sweep(self) -> None:
        """The end of a cycle: let the caches among this source's attributes forget names no
        longer seen. Found by type, so a new cache cannot be forgotten here."""
        for value in vars(self).values():
            if isinstance(value, Forgetful):
                value.sweep()
