"""top:cpu:N and top:memory:N over real processes: spinners, sleepers and allocations this test
starts.

The machine is shared (other work may burn more CPU or hold more memory than anything started
here), so each test reads a host root whose process table is its own children alone: proc/<pid>
links to the real /proc/<pid>, proc/stat and proc/meminfo to the real ones. Every read is the
kernel's, through the host-root path a DaemonSet uses; only the listing is narrowed. Membership
is asserted, never timings: a spinner is ranked once it has been seen to use CPU since the
previous cycle, and a sleeper is idle once it sleeps in nanosleep."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import wait_until
from tests.unit.rig import Rig

MiB = 2**20


class Children:
    """The test's processes, killed and reaped on the way out."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str) -> int:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc.pid

    def spinner(self, hold: int = 0) -> int:
        """Burns CPU for ever (holding `hold` bytes)."""
        pid = self.start(sys.executable, "-c", f"b = b'x' * {hold}\nwhile True: pass")
        if hold:
            assert wait_until(lambda: rss(pid) >= hold, 30)
        return pid

    def sleeper(self) -> int:
        pid = self.start("sleep", "600")
        assert wait_until(lambda: state(pid) == "S", 30)  # in nanosleep: it will not run again
        return pid

    def burner(self, seconds: float) -> int:
        """Uses `seconds` of CPU, then sleeps: the most CPU since it started, none lately."""
        pid = self.start(sys.executable, "-c", f"import time\nwhile time.process_time() < "
                         f"{seconds}: pass\ntime.sleep(600)")
        assert wait_until(lambda: state(pid) == "S", 60)
        return pid

    def holder(self, size: int) -> int:
        """Touches `size` bytes, then sleeps."""
        pid = self.start(sys.executable, "-c", f"import time\nb = b'x' * {size}\n"
                         "time.sleep(600)")
        assert wait_until(lambda: rss(pid) >= size and state(pid) == "S", 30)
        return pid

    def reap(self, pid: int) -> None:
        (proc,) = [p for p in self.procs if p.pid == pid]
        proc.kill()
        proc.wait()  # gone from /proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def children() -> Iterator[Children]:
    c = Children()
    try:
        yield c
    finally:
        c.stop()


def stat_fields(pid: int) -> list[str]:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return data[data.rindex(")") + 2:].split()


def state(pid: int) -> str:
    fields = stat_fields(pid)
    return fields[0] if fields else ""


def cpu_ticks(pid: int) -> int:
    fields = stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def host_root(tmp_path: Path, pids: list[int]) -> Path:
    """A host root whose process table is `pids` alone."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    for shared in ("stat", "meminfo"):  # the boot time; the adk_ catalog's memory percent
        (root / "proc" / shared).symlink_to(f"/proc/{shared}")
    (root / "etc" / "passwd").symlink_to("/etc/passwd")  # owner names
    for pid in pids:
        (root / "proc" / str(pid)).symlink_to(f"/proc/{pid}")
    return root


def reported(rig: Rig, metric: str = "process.memory.usage") -> list[int]:
    """The pids of a metric's points in a new cycle, one per point."""
    return [dict(k)["process.pid"] for k in rig.observe("process", metric)]


def spun_since(pids: list[int]) -> None:
    """Wait until every spinner has used CPU since now (a loaded machine may make it wait)."""
    before = {pid: cpu_ticks(pid) for pid in pids}
    assert wait_until(lambda: all(cpu_ticks(p) > before[p] for p in pids), 60)


def test_three_spinners_among_sleepers_are_the_top_three(tmp_path: Path,
                                                         children: Children) -> None:
    others = [children.burner(0.3), *(children.sleeper() for _ in range(4)),
              children.holder(32 * MiB)]
    spinners = [children.spinner() for _ in range(3)]  # less CPU than the burner, so far
    rig = Rig(host_root(tmp_path, spinners + others), processes="top:cpu:3")
    assert reported(rig) == []  # the first cycle has no previous one to measure from
    spun_since(spinners)
    assert sorted(reported(rig)) == sorted(spinners)
    top = rig.source("process").figures()["process_top"]["cpu"]
    assert sorted(p["pid"] for p in top) == sorted(spinners)
    assert [p["rank"] for p in top] == [1, 2, 3] and all(p["cpu_seconds"] > 0 for p in top)
    assert {p["name"] for p in top} == {os.path.basename(os.path.realpath(sys.executable))}


def test_the_two_largest_allocations_are_the_top_two_by_memory(tmp_path: Path,
                                                                children: Children) -> None:
    big, bigger = children.holder(48 * MiB), children.holder(64 * MiB)
    others = [children.sleeper() for _ in range(3)] + [children.holder(8 * MiB)]
    root = host_root(tmp_path, [big, *others, bigger])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env.update({"ADK_AGENT_ROOT_PATH": str(root), "ADK_AGENT_PROCESSES": "top:memory:2",
                "ADK_AGENT_SOURCES": "process,processes",
                "ADK_AGENT_PROCESS_ATTRIBUTES": "process.owner,process.parent_pid"})
    out = subprocess.run([sys.executable, "-m", "agent", "once", "--format", "json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    metrics = {m["name"]: m["points"] for m in json.loads(out.stdout)["metrics"]}
    usage = {p["attributes"]["process.pid"]: p for p in metrics["process.memory.usage"]}
    assert set(usage) == {big, bigger}
    assert usage[bigger]["value"] >= 64 * MiB and usage[big]["value"] >= 48 * MiB
    owner = pwd.getpwuid(os.getuid()).pw_name  # through the host root's etc/passwd
    assert {(p["attributes"]["process.owner"], p["attributes"]["process.parent_pid"])
            for p in usage.values()} == {(owner, os.getpid())}
    states = {p["attributes"]["process.state"]: p["value"]
              for p in metrics["system.process.count"]}
    assert states == {"running": 0, "sleeping": 6, "stopped": 0, "defunct": 0}


def test_cpu_and_memory_together_are_the_union(tmp_path: Path, children: Children) -> None:
    both = children.spinner(hold=64 * MiB)  # the most CPU and the most memory
    spinner, holder = children.spinner(), children.holder(48 * MiB)
    sleepers = [children.sleeper() for _ in range(3)]
    rig = Rig(host_root(tmp_path, [both, spinner, holder, *sleepers]),
              processes="top:cpu:2,top:memory:2")
    assert sorted(reported(rig)) == sorted([both, holder])  # memory alone at first
    spun_since([both, spinner])
    pids = reported(rig)
    assert sorted(pids) == sorted([both, spinner, holder])  # each once
    top = rig.source("process").figures()["process_top"]
    assert {p["pid"] for p in top["cpu"]} == {both, spinner}
    assert [p["pid"] for p in top["memory"]] == [both, holder]


def test_a_chosen_process_that_exits_is_no_longer_reported(tmp_path: Path,
                                                           children: Children) -> None:
    first, second = children.holder(64 * MiB), children.holder(48 * MiB)
    small = children.holder(8 * MiB)
    rig = Rig(host_root(tmp_path, [first, second, small]), processes="top:memory:2")
    assert sorted(reported(rig)) == sorted([first, second])
    children.reap(first)
    rig.cycle()
    for metric in rig.source("process").observers():  # no point of it anywhere, no zeros
        assert first not in [dict(k).get("process.pid", dict(k).get("pid"))
                             for k in rig.points("process", metric)]
    assert sorted(reported(rig)) == sorted([second, small])  # the next largest comes in
    assert first not in [p["pid"] for p in rig.source("process").figures()["process_top"][
        "memory"]]


def test_process_counts_by_state_from_the_walk(tmp_path: Path, children: Children) -> None:
    spinner = children.spinner()
    asleep, stopped = children.sleeper(), children.sleeper()
    os.kill(stopped, signal.SIGSTOP)
    zombie = children.start("true")  # exits; left unreaped, it is defunct
    assert wait_until(lambda: state(stopped) == "T" and state(zombie) == "Z", 30)
    rig = Rig(host_root(tmp_path, [spinner, asleep, stopped, zombie]), processes="top:cpu:1")
    counts = {dict(k)["process.state"]: v
              for k, v in rig.observe("processes", "system.process.count").items()}
    assert counts == {"running": 1, "sleeping": 1, "stopped": 1, "defunct": 1}
