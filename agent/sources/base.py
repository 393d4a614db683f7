"""What every source shares: its context, its per-cycle memo, interned attribute sets."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from agent.hostfs import HostFS
from agent.snapshot import Memo
from agent.sources.shared import SharedReads

AttrValue = str | int
Attributes = Mapping[str, AttrValue]
Obs = tuple[float | int, Attributes]
Observer = Callable[[], Iterable[Obs]]

LINUX = sys.platform.startswith("linux")
NO_ATTRS: Attributes = {}


@dataclass(frozen=True)
class NameFilter:
    """Glob include/exclude lists: a name passes when it matches an include (or there are none)
    and no exclude. Verdicts are cached: device and interface names repeat every cycle."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, name: str) -> bool:
        verdict = self._seen.get(name)
        if verdict is None:
            verdict = (not self.include or any(fnmatch.fnmatchcase(name, p) for p in self.include)
                       ) and not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)
            self._seen[name] = verdict
        return verdict


@dataclass(frozen=True)
class Context:
    """What the settings tell a source; built once at start-up."""

    host: HostFS = field(default_factory=HostFS)
    interval: float = 10.0
    per_cpu: bool = False
    disks: NameFilter = field(default_factory=NameFilter)
    interfaces: NameFilter = field(default_factory=NameFilter)
    mountpoints: NameFilter = field(default_factory=NameFilter)
    fs_types: NameFilter = field(default_factory=NameFilter)
    processes: tuple[str, ...] = ("self",)
    source_intervals: Mapping[str, float] = field(default_factory=dict)
    source_timeout: float = 2.0
    service_version: str | None = None
    git_commit: str | None = None
    shared: SharedReads = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shared", SharedReads(self.host, self.interval, self.per_cpu))


class Attrs:
    """Interns attribute dicts so a series reuses one dict across cycles."""

    def __init__(self, *keys: str) -> None:
        self.keys = keys
        self._cache: dict[tuple[AttrValue, ...], dict[str, AttrValue]] = {}

    def __call__(self, *values: AttrValue) -> dict[str, AttrValue]:
        attrs = self._cache.get(values)
        if attrs is None:
            attrs = self._cache[values] = dict(zip(self.keys, values, strict=True))
        return attrs


class Source:
    """A domain's reads (memoised per cycle) and the observers of its catalog names."""

    name: ClassVar[str]

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        interval = ctx.source_intervals.get(self.name, ctx.interval)
        # Fresh once per export cycle; a slower source keeps its reads for its own interval.
        # Half an export interval of slack absorbs timer jitter between cycles.
        self.memo = Memo(max(interval, ctx.interval) - ctx.interval / 2)

    def observers(self) -> dict[str, Observer]:
        raise NotImplementedError
