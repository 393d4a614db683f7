"""filesystem: space used, free and reserved per mounted filesystem."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from agent.host.cycle import per_cycle
from agent.host.records import Mount
from agent.host.workers import DaemonPool
from agent.sources.base import (
    Attrs,
    Context,
    Figures,
    Kind,
    Metric,
    NameFilter,
    Obs,
    Observer,
    Schema,
    Source,
)

log = logging.getLogger(__name__)
U, G, A = Kind.UPDOWN, Kind.GAUGE, Schema.ADK
FS = ("system.device", "system.filesystem.mode", "system.filesystem.mountpoint",
      "system.filesystem.state", "system.filesystem.type")
FS_NO_STATE = FS[:3] + FS[4:]
ADK = ("mountpoint", "device")
# Filesystems on local block devices: statvfs answers from memory. Anything else (NFS, CIFS,
# FUSE, Ceph...) may block on a server and goes through a worker with a timeout.
LOCAL_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "ntfs",
                         "ntfs3", "f2fs", "jfs", "reiserfs", "zfs", "bcachefs", "hfsplus",
                         "apfs", "ufs"})


@dataclass(frozen=True, slots=True)
class FsUsage:
    device: str
    mountpoint: str  # as the host names it
    fstype: str
    mode: str
    used: int
    free: int  # available to unprivileged users
    reserved: int  # free only to root

    @property
    def total(self) -> int:
        return self.used + self.free + self.reserved

    @property
    def percent(self) -> float:
        """Used over what users can use (used + free): df's Use%."""
        return self.used / (self.used + self.free) * 100 if self.used + self.free else 0.0


def _count(items: list[str], what: str) -> str:
    return f"1 {what}" if len(items) == 1 else f"{len(items):,} {what}s"


def _listed(items: list[str], most: int = 5) -> str:
    """A few of many, so 10,000 mounts make one line, not 10,000."""
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most:,} more"


class FilesystemSource(Source):
    name = "filesystem"
    metrics = (
        Metric("system.filesystem.usage", U, "By", "Filesystem space by state", FS),
        Metric("system.filesystem.utilization", G, "1", "Share of filesystem space used",
               FS_NO_STATE),
        Metric("system.filesystem.limit", U, "By", "Filesystem size", FS_NO_STATE,
               enabled=False),
        Metric("adk_system_disk_usage_percent", G, "%", "Used space per mount point, as df's Use%",
               ADK, schema=A),
        Metric("adk_system_disk_free_bytes", G, "By", "Space free to users per mount point", ADK,
               schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        c = ctx.config
        self._fs_types = NameFilter(tuple(c.fs_types_include), tuple(c.fs_types_exclude))
        self._mountpoints = NameFilter(tuple(c.mountpoints_include), tuple(c.mountpoints_exclude))
        self._state = Attrs(*FS)
        self._fs = Attrs(*FS_NO_STATE)
        self._adk = Attrs(*ADK)
        self._unreadable: set[str] = set()
        self._stuck: dict[str, Future[os.statvfs_result]] = {}
        self._pool = DaemonPool(4, "adk-statvfs")

    def _statvfs(self, m: Mount, deadline: float, news: dict[str, list[str]]
                 ) -> os.statvfs_result | None:
        """statvfs in a worker so a stale network mount cannot hang the cycle: a mount whose
        call does not return by the deadline is skipped, and skipped without a new call for
        as long as that call stays stuck."""
        if m.fstype in LOCAL_TYPES:  # a local disk answers; skip the hand-off to a worker
            return os.statvfs(self.ctx.host.path(m.mountpoint))
        stuck = self._stuck.get(m.mountpoint)
        if stuck is not None:
            if not stuck.done():
                return None
            del self._stuck[m.mountpoint]
            news["answer statvfs again"].append(m.mountpoint)
        future = self._pool.submit(os.statvfs, self.ctx.host.path(m.mountpoint))
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.001))
        except FutureTimeout:
            self._stuck[m.mountpoint] = future
            news["stuck"].append(f"{m.mountpoint} ({m.fstype})")
            return None

    @per_cycle
    def usage(self) -> list[FsUsage]:
        out = []
        deadline = time.monotonic() + self.config.source_timeout
        # what changed this cycle, said in one line each however many mounts it concerns
        news: dict[str, list[str]] = {"skipped": [], "stuck": [], "answer statvfs again": []}
        mounts = self.read.mounts()
        for m in mounts:
            if not (self._fs_types(m.fstype) and self._mountpoints(m.mountpoint)):
                continue
            try:
                st = self._statvfs(m, deadline, news)
            except (OSError, ValueError) as exc:  # gone, not ours to read, not a path at all
                if m.mountpoint not in self._unreadable:
                    self._unreadable.add(m.mountpoint)
                    reason = getattr(exc, "strerror", None) or exc
                    news["skipped"].append(f"{m.mountpoint} ({reason})")
                continue
            if st is None:
                continue
            if st.f_blocks == 0:
                continue
            size = st.f_frsize
            out.append(FsUsage(
                m.device, m.mountpoint, m.fstype, "ro" if "ro" in m.options else "rw",
                used=(st.f_blocks - st.f_bfree) * size, free=st.f_bavail * size,
                reserved=(st.f_bfree - st.f_bavail) * size))
        if len(self._unreadable) > len(mounts):  # unmounted since: forget them
            self._unreadable &= {m.mountpoint for m in mounts}
        self._report(news)
        return out

    def _report(self, news: dict[str, list[str]]) -> None:
        if news["skipped"]:
            log.info("%s skipped: %s", _count(news["skipped"], "filesystem"),
                     _listed(news["skipped"]))
        if news["stuck"]:
            log.warning("%s did not answer statvfs within %gs (skipped until answering): %s",
                        _count(news["stuck"], "filesystem"), self.config.source_timeout,
                        _listed(news["stuck"]))
        if news["answer statvfs again"]:
            log.info("%s answer again: %s", _count(news["answer statvfs again"], "filesystem"),
                     _listed(news["answer statvfs again"]))

    def _usage(self) -> Iterator[Obs]:
        for fs in self.usage():
            for state in ("used", "free", "reserved"):
                yield getattr(fs, state), self._state(fs.device, fs.mode, fs.mountpoint, state,
                                                      fs.fstype)

    def _utilization(self) -> Iterator[Obs]:
        for fs in self.usage():
            # Used over what users can use (used + free): df's Use%, so a disk that only root
            # could still write to reads as full.
            if fs.used + fs.free:
                yield fs.used / (fs.used + fs.free), self._fs(fs.device, fs.mode, fs.mountpoint,
                                                              fs.fstype)

    def _limit(self) -> Iterator[Obs]:
        for fs in self.usage():
            yield fs.total, self._fs(fs.device, fs.mode, fs.mountpoint, fs.fstype)

    def observers(self) -> dict[str, Observer]:
        return {
            "system.filesystem.usage": self._usage,
            "system.filesystem.utilization": self._utilization,
            "system.filesystem.limit": self._limit,
            "adk_system_disk_usage_percent": lambda: [
                (fs.percent, self._adk(fs.mountpoint, fs.device)) for fs in self.usage()],
            "adk_system_disk_free_bytes": lambda: [
                (fs.free, self._adk(fs.mountpoint, fs.device)) for fs in self.usage()],
        }

    def figures(self) -> Figures:
        usage = self.memo.peek("usage")
        if not usage:
            return {}
        return {"disk": {"usage": {u.mountpoint: {"percent": round(u.percent, 2),
                                                  "free_bytes": u.free} for u in usage}}}
