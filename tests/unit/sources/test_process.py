"""process: a fixed process of the fixture host root (proc/4242: nginx), and the agent's own
process (the default target) read from this machine's /proc; the pattern targets over real
processes are in tests/e2e/test_process_targets.py."""

from __future__ import annotations

import logging
import os

import psutil
import pytest

import agent.host.procfs as procfs
from agent.config.targets import parse_target
from agent.sources.process import resolve
from tests.unit.rig import Rig, by

NGINX = "pid:4242"  # tests/fixtures/hostroot/proc/4242


def test_resident_memory_is_statm_s_as_psutil_and_the_collector_read_it() -> None:
    rig = Rig(processes=NGINX, metric_schema="both").cycle()
    # statm's 3500 resident pages, not the 3000 of /proc/<pid>/stat's rss field
    assert list(rig.points("process", "process.memory.usage").values()) == \
        [3500 * procfs.PAGE_SIZE]
    assert list(rig.points("process", "process.memory.virtual").values()) == \
        [25600 * procfs.PAGE_SIZE]
    assert list(rig.points("process", "adk_process_memory_rss_bytes").values()) == \
        [3500 * procfs.PAGE_SIZE]
    (doc,) = rig.source("process").figures()["process"]
    assert doc["rss_bytes"] == 3500 * procfs.PAGE_SIZE


def test_self_has_identity_attributes() -> None:
    rig = Rig("/").cycle()
    ((attrs, rss),) = rig.points("process", "process.memory.usage").items()
    a = dict(attrs)
    assert a["process.pid"] == os.getpid()
    assert a["process.executable.name"] == psutil.Process().name()
    assert rss > 1_000_000
    cpu = by(rig.points("process", "process.cpu.time"), "cpu.mode")
    assert set(cpu) == {"user", "system"} and cpu["user"] > 0
    (doc,) = rig.source("process").figures()["process"]
    assert doc["pid"] == os.getpid() and doc["rss_bytes"] == rss


def test_access_denied_warns_once_per_process(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def denied(proc: str, pid: int) -> None:
        raise PermissionError(13, "Permission denied", f"{proc}/{pid}/io")

    monkeypatch.setattr(procfs, "read_pid_io", denied)
    rig = Rig("/")
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert rig.observe("process", "process.disk.io") == {}
        assert rig.points("process", "process.memory.usage")  # the rest still reported
    assert caplog.text.count("no permission to read its I/O counters") == 1


def test_resolve_keeps_order_and_dedupes() -> None:
    me = os.getpid()
    assert resolve((parse_target("self"), parse_target(f"pid:{me}")), list) == [me]
    table = [(10, "nginx", ["nginx: master"]), (11, "nginx", ["nginx: worker"]),
             (12, "python3", ["python3", "app.py"])]
    found = resolve((parse_target("cmdline:app\\.py"), parse_target("name:^nginx$")),
                    lambda: table)
    assert found == [10, 11, 12]  # in table order, each once
