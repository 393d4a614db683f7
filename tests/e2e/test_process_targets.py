"""Process targets over real processes (the sidecar case): pattern, pid and pidfile targets
follow processes that start, restart and exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from tests.harness import wait_until
from tests.unit.rig import Rig


def spawn(tag: str) -> subprocess.Popen[bytes]:
    """A child whose command line carries a tag the target can match, once it has exec'd
    (until then /proc shows the parent's command line)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag])

    def execd() -> bool:
        try:
            return tag.encode() in Path(f"/proc/{child.pid}/cmdline").read_bytes()
        except OSError:
            return False

    assert wait_until(execd, 10)
    return child


def pids_seen(rig: Rig) -> set[int]:
    return {dict(k)["process.pid"] for k in rig.observe("process", "process.memory.usage")}


def created(proc: subprocess.Popen[bytes]) -> float:
    return psutil.Process(proc.pid).create_time()


def creation_times(rig: Rig) -> dict[int, float]:
    return {dict(k)["process.pid"]: datetime.fromisoformat(
        dict(k)["process.creation.time"]).timestamp()
        for k in rig.points("process", "process.memory.usage")}


def test_a_target_that_starts_restarts_and_exits(caplog: pytest.LogCaptureFixture) -> None:
    tag = f"adk-target-{os.getpid()}"
    rig = Rig("/", processes=f"cmdline:{tag}")
    caplog.set_level(logging.DEBUG, logger="agent")
    assert pids_seen(rig) == set()  # not started yet: not an error
    first = spawn(tag)
    try:
        assert pids_seen(rig) == {first.pid}
        assert abs(creation_times(rig)[first.pid] - created(first)) < 0.011
        first.kill()
        first.wait()
        assert pids_seen(rig) == set()  # gone from the next cycle, quietly
        second = spawn(tag)
        try:
            assert pids_seen(rig) == {second.pid}  # the restart is picked up
            # as another process, with its own creation time
            assert abs(creation_times(rig)[second.pid] - created(second)) < 0.011
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_pid_and_pidfile_targets(tmp_path: Path) -> None:
    child = spawn("pidfile-target")
    try:
        pidfile = tmp_path / "app.pid"
        rig = Rig("/", processes=f"pidfile:{pidfile},self")
        assert pids_seen(rig) == {os.getpid()}  # no pidfile yet: only self
        pidfile.write_text(f"{child.pid}\n")
        assert pids_seen(rig) == {child.pid, os.getpid()}
        assert pids_seen(Rig("/", processes=f"pid:{child.pid}")) == {child.pid}
    finally:
        child.kill()
        child.wait()


def test_name_target_and_identity_attributes() -> None:
    me = psutil.Process()
    rig = Rig("/", processes=f"name:^{me.name()}$")
    mine = [dict(k) for k in rig.observe("process", "process.thread.count")
            if dict(k)["process.pid"] == os.getpid()]
    # name: matches the name ps shows; the attribute is the base name of /proc/<pid>/exe's target
    assert mine and mine[0]["process.executable.name"] == os.path.basename(me.exe())
    assert mine[0]["process.command"] == me.cmdline()[0]
