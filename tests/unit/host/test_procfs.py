"""The /proc parsers: against this machine's own process (where psutil can check them) and on
fixed text."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from agent.host import procfs
from agent.host.records import looks_like_partition


def test_pid_reads_agree_with_psutil() -> None:
    me = psutil.Process()
    st = procfs.read_pid_stat("/proc", os.getpid())
    with me.oneshot():
        assert st.threads == me.num_threads()
        status = procfs.read_pid_status("/proc", os.getpid())
        assert status.vms == me.memory_info().vms
        assert abs(status.rss - me.memory_info().rss) < 4 * 2**20
        assert st.user <= me.cpu_times().user + 0.02
        sw = me.num_ctx_switches()
    status = procfs.read_pid_status("/proc", os.getpid())
    assert status.voluntary >= sw.voluntary and status.involuntary >= sw.involuntary
    assert procfs.read_pid_io("/proc", os.getpid())[0] >= 0
    assert procfs.count_pid_fds("/proc", os.getpid()) == me.num_fds()


def test_a_name_with_spaces_and_parentheses(tmp_path: Path) -> None:
    pid = tmp_path / "7"
    pid.mkdir()
    fields = " ".join(["S", *["0"] * 10, "250", "150", *["0"] * 4, "3", "0", "99", "4096",
                       "10"])
    (pid / "stat").write_text(f"7 (a (b) c) {fields}\n")
    st = procfs.read_pid_stat(str(tmp_path), 7)
    assert (st.user, st.system) == (250 / procfs.CLK_TCK, 150 / procfs.CLK_TCK)
    assert (st.threads, st.starttime) == (3, 99)


def test_partitions_are_told_from_disks_by_name() -> None:
    devices = ["sda", "sda1", "nvme0n1", "nvme0n1p2", "mmcblk0", "mmcblk0p1", "sdb"]
    parts = {d for d in devices if looks_like_partition(d, devices)}
    assert parts == {"sda1", "nvme0n1p2", "mmcblk0p1"}


def test_the_walk_reads_one_stat_file_per_process(tmp_path: Path) -> None:
    for pid, name, state, rss in ((7, "a (b) c", "R", 10), (8, "kworker/0:1", "I", 0),
                                  (9, "zombie", "Z", 0), (10, "gone", "X", 0)):
        (tmp_path / str(pid)).mkdir()
        fields = " ".join([state, "1", *["0"] * 9, "250", "150", *["0"] * 4, "3", "0", "99",
                           "4096", str(rss), "18446744073709551615", *["0"] * 27])
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({name}) {fields}\n")
    (tmp_path / "11").mkdir()  # exited since the listing: no stat to read
    for pid in ("12", "13"):
        (tmp_path / pid).mkdir()
    (tmp_path / "12" / "stat").write_text("12 (x) S 1\n")  # not a stat file: skipped
    os.mkfifo(tmp_path / "13" / "stat")  # planted: opened non-blocking, skipped at once
    (tmp_path / "stat").write_text("cpu 1 2 3 4\n")  # not a process
    cpu = 400 / procfs.CLK_TCK
    assert sorted(procfs.read_glances(str(tmp_path))) == [
        (7, 99, "running", cpu, 10 * procfs.PAGE_SIZE), (8, 99, "sleeping", cpu, 0),
        (9, 99, "defunct", cpu, 0), (10, 99, None, cpu, 0)]


def test_the_walk_sees_this_process_as_psutil_does() -> None:
    me = psutil.Process()
    (mine,) = [g for g in procfs.read_glances("/proc") if g[0] == os.getpid()]
    assert mine[2] == "running"  # reading its own stat
    assert mine[3] <= sum(me.cpu_times()[:2]) + 0.02
    assert abs(mine[4] - me.memory_info().rss) < 4 * 2**20  # stat's rss is close to VmRSS
    assert mine[1] == procfs.read_pid_stat("/proc", os.getpid()).starttime
