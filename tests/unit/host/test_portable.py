"""The psutil reader (other platforms), fed fixed psutil data, through the same sources."""

from __future__ import annotations

import os
from collections import namedtuple

import psutil
import pytest

from agent.host.cycle import Cycle
from agent.host.paths import HostFS
from agent.host.portable import PsutilReader
from agent.sources.base import Context
from agent.sources.cpu import CpuSource
from agent.sources.memory import MemorySource
from tests.unit.rig import config


def test_cpu_and_memory_from_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    T = namedtuple("T", "user nice system idle irq softirq")
    VM = namedtuple("VM", "total available percent used free active inactive wired")
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: T(1.0, 0.0, 2.0, 7.0, 0.5, 0.25))
    monkeypatch.setattr(psutil, "virtual_memory",
                        lambda: VM(1000, 600, 40.0, 400, 100, 300, 200, 100))
    cycle, cfg = Cycle(), config("/")
    ctx = Context(cfg, HostFS("/"), PsutilReader(HostFS("/"), cycle, cfg), cycle)
    cpu, mem = CpuSource(ctx), MemorySource(ctx)
    cycle.open()
    t = {a["cpu.mode"]: v for v, a in cpu.observers()["system.cpu.time"]()}
    assert t == {"user": 1.0, "nice": 0.0, "system": 2.0, "idle": 7.0, "interrupt": 0.75}
    usage = {a["system.memory.state"]: v for v, a in mem.observers()["system.memory.usage"]()}
    assert usage == {"used": 400, "free": 100, "buffers": 0, "cached": 0}  # total - available


def test_process_errors_are_the_builtin_ones() -> None:
    reader = PsutilReader(HostFS("/"), Cycle(), config("/"))
    with pytest.raises(ProcessLookupError):
        reader.process_stat(2**22 + 12345)  # above any pid_max: no such process


def test_boot_time_is_kept_and_uptime_is_precise(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import time

    booted = time.time() - 100.25
    monkeypatch.setattr(psutil, "boot_time", lambda: booted)
    monkeypatch.setattr(sys, "platform", "darwin")  # the reader the platform choice gives
    reader = Context.build(config("/")).read
    assert isinstance(reader, PsutilReader)
    assert reader.boot_time() == booted
    assert reader.uptime() == pytest.approx(100.25, abs=0.5)
    monkeypatch.setattr(psutil, "boot_time", lambda: booted + 3)  # a clock step
    assert reader.boot_time() == booted


def test_the_walk_from_psutil_is_the_linux_walk_s_shape() -> None:
    cycle = Cycle()
    reader = PsutilReader(HostFS("/"), cycle, config("/"))
    cycle.open()
    walk = reader.process_walk()
    assert reader.process_walk() is walk  # once per cycle
    (mine,) = [g for g in walk if g[0] == os.getpid()]
    me = psutil.Process()
    assert mine[1] == me.create_time() and mine[2] == "running"
    assert 0 < mine[3] <= sum(me.cpu_times()[:2]) and mine[4] > 0
    assert reader.process_parent(os.getpid()) == os.getppid()
    assert reader.process_owner(os.getpid()) == me.username()
