"""Where the host's files are: `/` normally, the host root mount (e.g. /hostfs) in a container.

Every source asks this one object for paths, so none hard-codes /proc or /sys (the approach of
node_exporter's --path.rootfs and the hostmetrics receiver's root_path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HostFS:
    root: str = "/"

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *(p.lstrip("/") for p in parts))

    @property
    def proc(self) -> str:
        return self.path("proc")

    @property
    def sys(self) -> str:
        return self.path("sys")

    @property
    def contained(self) -> bool:
        """True when reading another root than our own (a host root mount)."""
        return os.path.realpath(self.root) != "/"

    @property
    def net(self) -> str:
        """The host network namespace's /proc/net: through pid 1 when reading a host root, so a
        container without hostNetwork still sees the node's interfaces and sockets."""
        return f"{self.proc}/1/net" if self.contained else f"{self.proc}/net"

    def host_path(self, mountpoint: str) -> str:
        """A mount point as the host names it (strip the host root prefix)."""
        if not self.contained:
            return mountpoint
        rel = os.path.relpath(mountpoint, self.root)
        return "/" if rel == "." else "/" + rel
