"""process: a fixed process of the fixture host root (proc/4242: nginx), and the agent's own
process (the default target) read from this machine's /proc; the pattern targets over real
processes are in tests/e2e/test_process_targets.py."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path

import psutil
import pytest

import agent.host.procfs as procfs
from agent.config.targets import parse_target
from agent.sources.process import resolve
from tests.paths import HOSTROOT
from tests.unit.rig import Rig, by

NGINX = "pid:4242"  # tests/fixtures/hostroot/proc/4242


def test_resident_memory_is_the_one_psutil_and_the_collector_read() -> None:
    rig = Rig(processes=NGINX, metric_schema="both").cycle()
    # status' VmRSS (statm's counters), not the 3000 pages of /proc/<pid>/stat's rss field
    assert list(rig.points("process", "process.memory.usage").values()) == [14000 * 1024]
    assert list(rig.points("process", "process.memory.virtual").values()) == [102400 * 1024]
    assert list(rig.points("process", "adk_process_memory_rss_bytes").values()) == \
        [14000 * 1024]
    assert by(rig.points("process", "process.context_switches"),
              "process.context_switch.type") == {"voluntary": 10, "involuntary": 2}
    (doc,) = rig.source("process").figures()["process"]
    assert doc["rss_bytes"] == 14000 * 1024


def test_identity_is_pid_and_creation_time_with_the_executable_s_base_name() -> None:
    rig = Rig(processes=NGINX, metric_schema="both").cycle()
    (attrs,) = rig.points("process", "process.thread.count")
    assert dict(attrs) == {
        "process.pid": 4242,
        # btime 1700000000 + starttime 12345 ticks
        "process.creation.time": "2023-11-14T22:15:23.450Z",
        "process.executable.name": "nginx",  # of /proc/4242/exe -> /usr/sbin/nginx
        "process.command": "nginx: master process /usr/sbin/nginx -g daemon off;"}
    # the legacy catalog's attributes are unchanged
    assert list(rig.points("process", "adk_process_threads")) == [
        (("name", "nginx"), ("pid", 4242))]
    (doc,) = rig.source("process").figures()["process"]
    assert (doc["name"], doc["creation_time"]) == ("nginx", "2023-11-14T22:15:23.450Z")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "root"
    shutil.copytree(HOSTROOT, dst, symlinks=True)
    return dst


def test_the_executable_name_is_the_exe_link_s_else_the_comm_name(root: Path) -> None:
    exe = root / "proc" / "4242" / "exe"
    exe.unlink()
    exe.symlink_to("/opt/openresty/bin/openresty (deleted)")  # replaced by an upgrade
    names = {dict(k)["process.executable.name"]: dict(k)["process.pid"] for k in
             Rig(root, processes=NGINX).observe("process", "process.thread.count")}
    assert names == {"openresty": 4242}
    exe.unlink()  # unreadable (another user's process) or absent (a kernel thread)
    names = {dict(k)["process.executable.name"]: dict(k)["process.pid"] for k in
             Rig(root, processes=NGINX).observe("process", "process.thread.count")}
    assert names == {"nginx": 4242}


def test_a_reused_pid_is_another_series(root: Path) -> None:
    rig = Rig(root, processes=NGINX)
    (before,) = rig.observe("process", "process.thread.count")
    stat = root / "proc" / "4242" / "stat"
    # the same program again under the same pid, started later
    stat.write_text(stat.read_text().replace(" 12345 ", " 99999 "))
    (after,) = rig.observe("process", "process.thread.count")
    assert dict(before)["process.creation.time"] == "2023-11-14T22:15:23.450Z"
    assert dict(after)["process.creation.time"] == "2023-11-14T22:29:59.990Z"
    assert {k: v for k, v in dict(after).items() if k != "process.creation.time"} == \
        {k: v for k, v in dict(before).items() if k != "process.creation.time"}
    # utilization is never measured across two processes
    assert rig.points("process", "process.cpu.utilization") == {}


def test_self_has_identity_attributes() -> None:
    rig = Rig("/").cycle()
    ((attrs, rss),) = rig.points("process", "process.memory.usage").items()
    a = dict(attrs)
    me = psutil.Process()
    assert a["process.pid"] == os.getpid()
    assert a["process.executable.name"] == os.path.basename(me.exe())
    created = datetime.fromisoformat(a["process.creation.time"]).timestamp()
    assert abs(created - me.create_time()) < 0.011
    assert a["process.creation.time"].endswith("Z")
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


def test_top_memory_chooses_from_the_walk_and_reads_the_chosen_in_full() -> None:
    rig = Rig(processes="top:memory:3").cycle()
    # the fixture's one process, chosen by stat's 3000 pages, reported with status' VmRSS
    assert list(rig.points("process", "process.memory.usage").values()) == [14000 * 1024]
    top = rig.source("process").figures()["process_top"]
    assert top == {"memory": [{"pid": 4242, "name": "nginx", "rank": 1,
                               "rss_bytes": 3000 * procfs.PAGE_SIZE}]}


def test_top_cpu_chooses_what_used_cpu_since_the_previous_cycle(root: Path) -> None:
    rig = Rig(root, processes="top:cpu:1")
    assert pids(rig) == set()  # nothing to measure from at the first cycle
    assert pids(rig) == set()  # nginx idle since
    stat = root / "proc" / "4242" / "stat"
    stat.write_text(stat.read_text().replace(" 250 150 ", " 300 150 "))  # 0.5 s more
    assert pids(rig) == {4242}
    assert rig.source("process").figures()["process_top"] == {"cpu": [
        {"pid": 4242, "name": "nginx", "rank": 1, "cpu_seconds": 50 / procfs.CLK_TCK}]}
    assert pids(rig) == set()  # idle again: no longer chosen, and no zero points
    assert rig.source("process").figures()["process_top"] == {"cpu": []}


def test_owner_and_parent_when_asked_for() -> None:
    rig = Rig(processes=NGINX, process_attributes="process.owner,process.parent_pid")
    (attrs,) = rig.observe("process", "process.thread.count")
    # uid 101 named by the host root's etc/passwd; the parent from stat
    assert dict(attrs)["process.owner"] == "nginx" and dict(attrs)["process.parent_pid"] == 1
    (attrs,) = Rig(processes=NGINX).observe("process", "process.thread.count")
    assert "process.owner" not in dict(attrs) and "process.parent_pid" not in dict(attrs)


def test_a_process_named_and_chosen_is_reported_once_named_first() -> None:
    rig = Rig(processes="top:memory:1,pid:4242").cycle()
    assert [dict(k)["process.pid"] for k in rig.points("process", "process.memory.usage")] == \
        [4242]
    assert "cpu" in rig.source("process").figures()  # the first target is a named one
    rig = Rig(processes="top:memory:1").cycle()
    rig.points("process", "process.memory.usage")
    assert "cpu" not in rig.source("process").figures()  # not a process the ranking chose


def test_top_processes_not_ours_to_read_are_one_warning(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    def denied(proc: str, pid: int) -> None:
        raise PermissionError(13, "Permission denied", f"{proc}/{pid}/io")

    monkeypatch.setattr(procfs, "read_pid_io", denied)
    caplog.set_level(logging.WARNING)
    rig = Rig(processes="top:memory:1")
    for _ in range(3):
        assert rig.observe("process", "process.disk.io") == {}
        assert rig.points("process", "process.memory.usage")
    assert [r.getMessage() for r in caplog.records] == [
        "processes chosen by top: that are not ours to read are reported without their I/O "
        "counters (the first: process 4242); said once"]


def pids(rig: Rig) -> set[int]:
    return {dict(k)["process.pid"] for k in rig.observe("process", "process.cpu.time")}
