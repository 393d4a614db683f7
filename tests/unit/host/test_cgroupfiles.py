"""A node's cgroup files held open from cycle to cycle: fresh values from each read, the limits
never held, the budget never exceeded, a FIFO never held or waited on, and every descriptor
given back when its cgroup goes (or its entry is renamed: then it is kept)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agent.host import cgroupstats as cs
from agent.host.cgroupfiles import Budget, Held
from agent.host.containers import Node
from tests import cgroup_tree
from tests.paths import HOSTROOT

EVERY_CYCLE = {cs.CPU_STAT, cs.MEMORY_CURRENT, cs.MEMORY_STAT}


def cgroup_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cg"
    d.mkdir()
    (d / cs.CPU_STAT).write_bytes(b"usage_usec 10\nuser_usec 6\nsystem_usec 4\n")
    (d / cs.MEMORY_CURRENT).write_bytes(b"1000\n")
    (d / cs.MEMORY_STAT).write_bytes(b"anon 300\nfile 500\ninactive_file 200\n")
    (d / cs.MEMORY_MAX).write_bytes(b"4096\n")
    return d


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_held_files_give_fresh_values_and_the_limits_are_not_held(tmp_path: Path) -> None:
    d = cgroup_dir(tmp_path)
    budget = Budget(100)
    held = Held(str(d), EVERY_CYCLE, budget)
    st = held.read({*EVERY_CYCLE, cs.MEMORY_MAX})
    assert st is not None and (st.memory_current, st.working_set, st.memory_max) == \
        (1000, 800, 4096)
    assert budget.held == 3  # memory.max was opened, read and closed
    (d / cs.MEMORY_CURRENT).write_bytes(b"123456789\n")  # rewritten in place, as the kernel does
    (d / cs.CPU_STAT).write_bytes(b"usage_usec 99\n")
    before = open_fds()
    st = held.read(EVERY_CYCLE)
    assert st is not None and st.memory_current == 123456789
    assert st.cpu is not None and st.cpu.usage_us == 99 and st.cpu.user_us is None
    assert open_fds() == before  # nothing opened for a read of held files
    held.close()
    assert budget.held == 0 and open_fds() == before - 3


def test_the_budget_is_never_exceeded(tmp_path: Path) -> None:
    d = cgroup_dir(tmp_path)
    budget = Budget(2)
    first, second = Held(str(d), EVERY_CYCLE, budget), Held(str(d), EVERY_CYCLE, budget)
    for _ in range(3):
        for held in (first, second):
            st = held.read(EVERY_CYCLE)
            assert st is not None and st.memory_current == 1000  # read all the same
            assert budget.held == 2
    first.close()
    second.close()
    assert budget.held == 0


def test_a_fifo_is_neither_held_nor_waited_on(tmp_path: Path) -> None:
    d = cgroup_dir(tmp_path)
    (d / cs.MEMORY_CURRENT).unlink()
    os.mkfifo(d / cs.MEMORY_CURRENT)  # planted: opened non-blocking, read empty at once
    budget = Budget(100)
    held = Held(str(d), EVERY_CYCLE, budget)
    for _ in range(2):
        held.read({cs.CPU_STAT, cs.MEMORY_STAT})
        with pytest.raises(ValueError):  # empty at once: malformed, for the source to report
            held.read({cs.MEMORY_CURRENT})
        assert budget.held == 2
    held.close()


def test_a_cgroup_that_is_not_there_reads_as_gone(tmp_path: Path) -> None:
    held = Held(str(tmp_path / "gone"), EVERY_CYCLE, Budget(100))
    assert held.read(EVERY_CYCLE) is None


def test_a_node_gives_back_the_files_of_containers_that_went(tmp_path: Path) -> None:
    shutil.copytree(HOSTROOT, tmp_path, dirs_exist_ok=True)
    node = cgroup_tree.build(tmp_path, pods=2, per_pod=2)
    budget = Budget(1000)
    reader = Node(str(tmp_path), {cs.CPU_STAT}, {cs.CPU_STAT, cs.MEMORY_CURRENT, cs.MEMORY_MAX},
                  budget=budget)
    snap = reader.read()
    assert len(snap.containers) == 4 and len(snap.pods) == 2
    assert budget.held == 4 * 2 + 2  # two files per container, one per pod; no limits
    again = reader.read()
    assert [e.files for e, _ in again.containers] == [e.files for e, _ in snap.containers]
    gone = next(iter(node.workloads))
    (path,) = [e.files.path for e, _ in snap.containers if e.attrs["container.id"] == gone]
    shutil.rmtree(path)
    after = reader.read()
    assert len(after.containers) == 3 and budget.held == 3 * 2 + 2
    reader.close()
    assert budget.held == 0


def test_a_renamed_entry_keeps_its_open_files(tmp_path: Path) -> None:
    shutil.copytree(HOSTROOT, tmp_path, dirs_exist_ok=True)
    cgroup_tree.build(tmp_path, pods=1, per_pod=1)
    logs = tmp_path / "var" / "log" / "containers"
    saved = tmp_path / "links"
    shutil.move(logs, saved)  # the kubelet's links not written yet: no container names
    budget = Budget(1000)
    reader = Node(str(tmp_path), (), {cs.CPU_STAT, cs.MEMORY_CURRENT}, budget=budget)
    unnamed = {e.attrs["container.id"]: e for e, _ in reader.read().containers}
    assert len(unnamed) == 2 and budget.held == 4  # the sandbox cannot be told apart yet
    fds = {cid: dict(e.files._fds) for cid, e in unnamed.items()}
    shutil.move(saved, logs)
    (named,) = [e for e, _ in reader.read().containers]  # the sandbox now left out
    was = unnamed[str(named.attrs["container.id"])]
    assert "k8s.container.name" in named.attrs and "k8s.container.name" not in was.attrs
    assert named.files._fds == fds[str(named.attrs["container.id"])]  # the same descriptors
    assert budget.held == 2  # the workload's files taken over, the sandbox's closed
    reader.close()
    assert budget.held == 0
