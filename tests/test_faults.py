"""Fault isolation: a failing or hanging source loses only its own metrics, and says so once."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from agent.pipeline import Agent
from agent.settings import load_config

FIXTURE = Path(__file__).parent / "fixtures" / "hostroot"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "root"
    shutil.copytree(FIXTURE, dst)
    return dst


def agent_for(root: Path, **kw: object) -> Agent:
    return Agent(load_config(exporter="none", root_path=str(root), interval="1s", **kw))


def cycle(agent: Agent) -> dict[str, list]:
    agent.new_cycle()
    return agent.collect()


def test_a_failing_source_loses_only_its_metrics(root: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_for(root)
    (root / "proc" / "loadavg").unlink()
    caplog.set_level(logging.INFO, logger="agent")
    for _ in range(3):
        out = cycle(agent)
        assert out["system.cpu.load_average.1m"] == []
        assert out["system.memory.usage"]  # the others still report
        assert out["system.cpu.time"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "source load failed" in warnings[0].getMessage()
    assert "loadavg" in warnings[0].getMessage() and "Traceback" not in caplog.text
    (root / "proc" / "loadavg").write_text("0.5 0.4 0.3 1/100 1\n")
    out = cycle(agent)
    assert [v for v, _ in out["system.cpu.load_average.1m"]] == [0.5]
    assert "source load recovered" in caplog.text
    assert agent.faults.errors["load"] == 9  # three metrics, three cycles


def test_a_parse_error_is_isolated_too(root: Path) -> None:
    agent = agent_for(root)
    (root / "proc" / "meminfo").write_text("garbage\n")
    out = cycle(agent)
    assert out["system.memory.usage"] == [] and out["system.paging.usage"] == []
    assert out["system.disk.io"]


def test_a_hanging_statvfs_is_bounded(root: Path, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    import agent.sources.filesystem as fs_mod

    release = threading.Event()
    calls: list[str] = []
    real = os.statvfs

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        if path.endswith("/data"):
            release.wait(30)  # a stale NFS mount
        return real(path)

    monkeypatch.setattr(fs_mod.os, "statvfs", statvfs)
    agent = agent_for(root, source_timeout="300ms")
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    out = cycle(agent)
    assert time.monotonic() - started < 5
    mounts = {a["system.filesystem.mountpoint"] for _, a in out["system.filesystem.usage"]}
    assert mounts == {"/"}  # /data skipped, / still reported
    assert out["system.cpu.time"]
    # the next cycle does not call the stuck mount again, and does not wait for it
    calls.clear()
    started = time.monotonic()
    cycle(agent)
    assert time.monotonic() - started < 0.25
    assert not any(c.endswith("/data") for c in calls)
    assert caplog.text.count("did not answer statvfs") == 1
    release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        mounts = {a["system.filesystem.mountpoint"]
                  for _, a in cycle(agent)["system.filesystem.usage"]}
        if "/data" in mounts:
            break
    assert mounts == {"/", "/data"}


def test_series_cap_warns_once_per_metric(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_for(root, max_series=2)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        out = cycle(agent)
        assert len(out["system.network.io"]) == 2
    assert caplog.text.count("system.network.io has 6 series") == 1
