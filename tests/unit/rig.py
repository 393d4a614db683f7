"""Sources against a host root, in-process: build them as the pipeline does, open cycles, observe.

    rig = Rig()                        # the fixture host root (tests/fixtures/hostroot)
    rig.observe("memory", "system.memory.usage")   # {attribute items: value} in a new cycle
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from agent.config.plain import Config
from agent.settings import load_config
from agent.sources import SOURCES
from agent.sources.base import Context, Source
from tests.paths import FIXTURES, HOSTROOT

Points = dict[tuple[tuple[str, Any], ...], float]
# The fixture's loop device and pseudo filesystems are filtered as a user would.
FIXTURE_FILTERS = {"disks_exclude": "loop*", "fs_types_exclude": "proc,tmpfs,overlay"}


def node_root(dst: Path, fixture: str) -> Path:
    """The fixture host root with a node's cgroup tree and kubelet logs on top
    (tests/fixtures/cgroup-*). The kubelet's links are absolute, as on a node: copied as links."""
    shutil.copytree(HOSTROOT, dst, symlinks=True)
    shutil.copytree(FIXTURES / fixture, dst, symlinks=True, dirs_exist_ok=True)
    return dst


def config(root: Path | str = HOSTROOT, **overrides: Any) -> Config:
    if str(root) == str(HOSTROOT):
        overrides = {**FIXTURE_FILTERS, **overrides}
    return load_config(exporter="none", root_path=str(root), **overrides)


class Rig:
    def __init__(self, root: Path | str = HOSTROOT, **overrides: Any) -> None:
        self.config = config(root, **overrides)
        self.context = Context.build(self.config)
        self._sources: dict[str, Source] = {}

    def source(self, name: str) -> Source:
        if name not in self._sources:
            self._sources[name] = SOURCES[name](self.context)
        return self._sources[name]

    def cycle(self) -> Rig:
        """Open the next collection cycle (reads are memoised for one cycle)."""
        self.context.cycle.open()
        return self

    def points(self, source: str, metric: str) -> Points:
        """A metric's points in the current cycle."""
        observe = self.source(source).observers()[metric]
        return {tuple(sorted(a.items())): v for v, a in observe()}

    def observe(self, source: str, metric: str) -> Points:
        """A metric's points in a new cycle."""
        return self.cycle().points(source, metric)


def observe(source: str, metric: str, root: Path | str = HOSTROOT, **overrides: Any) -> Points:
    return Rig(root, **overrides).observe(source, metric)


def by(points: Points, key: str) -> dict[object, float]:
    """Values keyed by one attribute."""
    return {dict(k)[key]: v for k, v in points.items()}
