"""Process targets (the sidecar case) and the filters that keep series in check."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from agent.catalog import BY_NAME
from agent.pipeline import Agent, select
from agent.settings import ConfigError, load_config, load_settings
from agent.sources import REGISTRY, Context
from agent.targets import parse_target, resolve


def spawn(tag: str) -> subprocess.Popen[bytes]:
    # A child whose command line carries a tag the target can match.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag])


def pids_seen(src: object) -> set[int]:
    src.memo.entries.clear()  # type: ignore[attr-defined]
    return {a["process.pid"] for _, a in src.observers()["process.memory.usage"]()}  # type: ignore[attr-defined]


def test_a_target_that_starts_restarts_and_exits(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    tag = f"adk-target-{os.getpid()}"
    src = REGISTRY["process"](Context(processes=(f"cmdline:{tag}",)))
    caplog.set_level(logging.DEBUG, logger="agent")
    assert pids_seen(src) == set()  # not started yet: not an error
    first = spawn(tag)
    try:
        assert pids_seen(src) == {first.pid}
        first.kill()
        first.wait()
        assert pids_seen(src) == set()  # gone from the next cycle, quietly
        second = spawn(tag)
        try:
            assert pids_seen(src) == {second.pid}  # the restart is picked up
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
        src = REGISTRY["process"](Context(processes=(f"pidfile:{pidfile}", "self")))
        assert pids_seen(src) == {os.getpid()}  # no pidfile yet: only self
        pidfile.write_text(f"{child.pid}\n")
        assert pids_seen(src) == {child.pid, os.getpid()}
        src = REGISTRY["process"](Context(processes=(f"pid:{child.pid}",)))
        assert pids_seen(src) == {child.pid}
    finally:
        child.kill()
        child.wait()


def test_name_target_and_identity_attributes() -> None:
    me = psutil.Process().name()
    src = REGISTRY["process"](Context(processes=(f"name:^{me}$",)))
    src.memo.entries.clear()
    points = list(src.observers()["process.thread.count"]())
    mine = [a for _, a in points if a["process.pid"] == os.getpid()]
    assert mine and mine[0]["process.executable.name"] == me
    assert mine[0]["process.command"] == psutil.Process().cmdline()[0]


def test_access_denied_warns_once_per_process(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    import agent.procfs as procfs

    def denied(proc: str, pid: int) -> None:
        raise PermissionError(13, "Permission denied", f"{proc}/{pid}/io")

    monkeypatch.setattr(procfs, "read_pid_io", denied)
    src = REGISTRY["process"](Context())
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        src.memo.entries.clear()
        assert list(src.observers()["process.disk.io"]()) == []
        assert list(src.observers()["process.memory.usage"]())  # the rest still reported
    assert caplog.text.count("no permission to read its I/O counters") == 1


@pytest.mark.parametrize("text", ["pid:0", "pid:x", "name:", "proc:1", "cmdline:[", "selff"])
def test_bad_targets(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


def test_resolve_keeps_order_and_dedupes() -> None:
    me = os.getpid()
    assert resolve((parse_target("self"), parse_target(f"pid:{me}"))) == [me]


def test_metric_filters_and_defaults() -> None:
    default = {m.name for m in select(load_config(exporter="none"))}
    assert "system.cpu.frequency" not in default and "system.filesystem.limit" not in default
    s = load_config(exporter="none", metrics_enabled="system.cpu.frequency",
                      metrics_disabled="system.cpu.time,process.cpu.time")
    names = {m.name for m in select(s)}
    assert "system.cpu.frequency" in names and "system.cpu.time" not in names
    s = load_config(exporter="none", sources="cpu,memory")
    assert {BY_NAME[n].source for n in (m.name for m in select(s))} == {"cpu", "memory"}
    with pytest.raises(ConfigError, match=r"did you mean 'system\.memory\.usage'"):
        load_settings(metrics_enabled="system.memory.usag")


def test_disabled_sources_do_no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.procfs as procfs

    def boom(*a: object) -> None:
        raise AssertionError("read for a disabled source")

    monkeypatch.setattr(procfs, "read_net_dev", boom)
    monkeypatch.setattr(procfs, "count_sockets", boom)
    monkeypatch.setattr(procfs, "read_diskstats", boom)
    agent = Agent(load_config(exporter="none", sources="cpu,memory,load"))
    out = agent.collect()
    assert out["system.memory.usage"] and "system.network.io" not in out


def test_a_slow_source_keeps_its_reads_for_its_own_interval(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import agent.snapshot as snapshot

    now = [1000.0]
    monkeypatch.setattr(snapshot.time, "monotonic", lambda: now[0])
    calls = {"usage": 0, "times": 0}
    for cls, name in ((REGISTRY["filesystem"], "usage"), (REGISTRY["cpu"], "times")):
        real = getattr(cls, name).__wrapped__

        def counting(self: object, real=real, name=name) -> object:
            calls[name] += 1
            return real(self)

        counting.__name__ = name
        monkeypatch.setattr(cls, name, snapshot.per_cycle(counting))
    # export every 10s, filesystem every 60s
    ctx = Context(interval=10.0, source_intervals={"filesystem": 60.0})
    fs, cpu = REGISTRY["filesystem"](ctx), REGISTRY["cpu"](ctx)
    for _ in range(6):  # one minute of cycles
        list(fs.observers()["system.filesystem.usage"]())
        list(cpu.observers()["system.cpu.time"]())
        now[0] += 10.0
    assert calls == {"usage": 1, "times": 6}
