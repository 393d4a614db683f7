"""filesystem against the fixture host root (proc/1/mounts: the host's mount table)."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

import agent.sources.filesystem as fs_mod
from tests.paths import HOSTROOT
from tests.unit.rig import Rig, observe


def test_filesystems_as_the_host_names_them() -> None:
    usage = observe("filesystem", "system.filesystem.usage")
    mounts = {(dict(k)["system.filesystem.mountpoint"], dict(k)["system.device"],
               dict(k)["system.filesystem.mode"]) for k in usage}
    # host paths from proc/1/mounts; pseudo filesystems filtered; the missing mount skipped
    assert mounts == {("/", "/dev/sda1", "rw"), ("/data", "fileserver:/export", "ro")}
    root = {dict(k)["system.filesystem.state"]: v for k, v in usage.items()
            if dict(k)["system.filesystem.mountpoint"] == "/"}
    st = os.statvfs(HOSTROOT)
    assert root["used"] + root["free"] + root["reserved"] == st.f_blocks * st.f_frsize
    util = observe("filesystem", "system.filesystem.utilization")
    assert all(0 < v < 1 for v in util.values())


def test_legacy_percent_and_health_figures_are_dfs_use() -> None:
    rig = Rig().cycle()
    pct = {dict(k)["mountpoint"]: v
           for k, v in rig.points("filesystem", "adk_system_disk_usage_percent").items()}
    usage = rig.source("filesystem").figures()["disk"]["usage"]
    assert set(usage) == set(pct) == {"/", "/data"}
    assert usage["/"]["percent"] == round(pct["/"], 2)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "root"
    shutil.copytree(HOSTROOT, dst)
    return dst


def test_a_hanging_statvfs_is_bounded(root: Path, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    calls: list[str] = []
    real = os.statvfs

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        if path.endswith("/data"):
            release.wait(30)  # a stale NFS mount
        return real(path)

    monkeypatch.setattr(fs_mod.os, "statvfs", statvfs)
    rig = Rig(root, source_timeout="300ms")
    caplog.set_level(logging.INFO)

    def mounts() -> set[str]:
        return {dict(k)["system.filesystem.mountpoint"]
                for k in rig.observe("filesystem", "system.filesystem.usage")}

    started = time.monotonic()
    assert mounts() == {"/"}  # /data skipped, / still reported
    assert time.monotonic() - started < 5
    # the next cycle does not call the stuck mount again, and does not wait for it
    calls.clear()
    started = time.monotonic()
    mounts()
    assert time.monotonic() - started < 0.25
    assert not any(c.endswith("/data") for c in calls)
    assert caplog.text.count("did not answer statvfs") == 1
    release.set()
    deadline = time.monotonic() + 5
    while (seen := mounts()) != {"/", "/data"} and time.monotonic() < deadline:
        pass
    assert seen == {"/", "/data"}


def test_mount_points_keep_non_ascii_names_and_escapes(root: Path) -> None:
    (root / "mnt" / "données x").mkdir(parents=True)
    (root / "mnt" / "a\\b").mkdir()
    with open(root / "proc" / "1" / "mounts", "ab") as f:
        f.write(b"/dev/sdd1 /mnt/donn\xc3\xa9es\\040x ext4 rw 0 0\n"
                b"/dev/sde1 /mnt/a\\134b ext4 ro 0 0\n")
    points = observe("filesystem", "system.filesystem.utilization", root)
    mounts = {dict(k)["system.filesystem.mountpoint"] for k in points}
    assert {"/mnt/données x", "/mnt/a\\b"} <= mounts


def test_ten_thousand_unreadable_mounts_make_one_line(root: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with open(root / "proc" / "1" / "mounts", "a") as f:
        f.writelines(f"/dev/x{n} /mnt/gone{n} ext4 rw 0 0\n" for n in range(10_000))
    caplog.set_level(logging.INFO, logger="agent")
    rig = Rig(root)
    for _ in range(3):
        assert {dict(k)["system.filesystem.mountpoint"]
                for k in rig.observe("filesystem", "system.filesystem.usage")} == {"/", "/data"}
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("agent.sources")]
    assert len(lines) == 1, lines[:3]  # the first cycle says it; the next ones know it
    assert lines[0].startswith("10,001 filesystems skipped: ") and "and 9,996 more" in lines[0]
