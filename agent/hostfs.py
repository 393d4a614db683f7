"""Where the host's files are: `/` normally, the host root mount (e.g. /hostfs) in a container.

Every source asks this one object for paths, so none hard-codes /proc or /sys (the approach of
node_exporter's --path.rootfs and the hostmetrics receiver's root_path).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from types import ModuleType

_procfs_path = "/proc"


def use_proc(path: str) -> None:
    """Point psutil (now or whenever it is first imported) at this proc."""
    global _procfs_path
    _procfs_path = path
    if "psutil" in sys.modules:
        sys.modules["psutil"].PROCFS_PATH = path


def psutil() -> ModuleType:
    """psutil reading the chosen proc. On Linux the agent reads /proc itself (once per cycle,
    through the host root) and asks psutil only for pattern targets and other platforms."""
    import psutil as ps

    ps.PROCFS_PATH = _procfs_path
    return ps


@dataclass(frozen=True, slots=True)
class HostFS:
    root: str = "/"
    # True when reading another root than our own (a host root mount); resolved once, since
    # sources ask on every cycle.
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

    def host_path(self, mountpoint: str) -> str:
        """A mount point as the host names it (strip the host root prefix)."""
        if not self.contained:
            return mountpoint
        rel = os.path.relpath(mountpoint, self.root)
        return "/" if rel == "." else "/" + rel
