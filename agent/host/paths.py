"""Where the host's files are: `/` normally, the host root mount (e.g. /hostfs) in a container.

Every reader asks this one object for paths, so none hard-codes /proc or /sys (the approach of
node_exporter's --path.rootfs and the hostmetrics receiver's root_path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HostFS:
    root: str = "/"
    # True when reading another root than our own (a host root mount); resolved once, since
    # readers ask on every cycle.
    contained: bool = field(init=False)
    proc: str = field(init=False)
    sys: str = field(init=False)
    net: str = field(init=False)

    def __post_init__(self) -> None:
        contained = os.path.realpath(self.root) != "/"
        proc = self.path("proc")
        object.__setattr__(self, "contained", contained)
        object.__setattr__(self, "proc", proc)
        object.__setattr__(self, "sys", self.path("sys"))
        # The host network namespace's /proc/net: through pid 1 when reading a host root, so
        # a container without hostNetwork still sees the node's interfaces and sockets.
        object.__setattr__(self, "net", f"{proc}/1/net" if contained else f"{proc}/net")

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *(p.lstrip("/") for p in parts))
