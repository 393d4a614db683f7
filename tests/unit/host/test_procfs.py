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
