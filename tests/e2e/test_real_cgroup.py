"""The containers source on a real cgroup v2 tree: a container-shaped cgroup made in this
machine's own hierarchy (apart from anything real, under a directory of its own), a child
process burning CPU in it, and the source seeing its CPU time grow. Skipped where no cgroup v2
tree can be written (a container, an unprivileged user, a cgroup v1-only host)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.host.cgroup import find_hierarchy
from tests.unit.rig import Rig

UID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CID = "5e" * 32
BURN = ("import sys, time\n"
        "sys.stdin.readline()  # moved into the cgroup: now burn\n"
        "start = time.thread_time()\n"
        "while time.thread_time() - start < 0.3:\n"
        "    pass\n")


@pytest.fixture
def container_cgroup() -> Iterator[tuple[Path, Path]]:
    """(the test's own cgroup tree, the container's cgroup in it), removed afterwards."""
    h = find_hierarchy("/")
    if h.path is None:
        pytest.skip(h.message)
    base = Path(h.path) / f"adk-agent-test-{os.getpid()}"
    ctr = base / "kubepods.slice/kubepods-besteffort.slice" \
        / f"kubepods-besteffort-pod{UID.replace('-', '_')}.slice/cri-containerd-{CID}.scope"
    try:
        ctr.mkdir(parents=True)
    except OSError as exc:  # read-only (a container), or not ours to write
        pytest.skip(f"no writable cgroup v2 tree here: {exc}")
    try:
        yield base, ctr
    finally:
        for d in (ctr, *ctr.parents):  # empty by now: the child has exited
            if d == base.parent:
                break
            d.rmdir()


def host_root(tmp_path: Path, tree: Path) -> Path:
    """A host root whose cgroup tree is `tree`, with the kubelet's log directory and link
    naming the container, and this machine's /proc."""
    root = tmp_path / "root"
    (root / "sys/fs").mkdir(parents=True)
    os.symlink(tree, root / "sys/fs/cgroup")
    os.symlink("/proc", root / "proc")
    log = f"/var/log/pods/test_burner_{UID}/burn/0.log"
    (root / log.lstrip("/")).parent.mkdir(parents=True)
    (root / log.lstrip("/")).write_text("")
    (root / "var/log/containers").mkdir()
    os.symlink(log, root / f"var/log/containers/burner_test_burn-{CID}.log")
    return root


def cpu_seconds(rig: Rig, metric: str) -> tuple[float, dict[str, object]]:
    """The one series' total over cpu.mode, and its attributes without the mode."""
    points = rig.observe("containers", metric)
    assert points, f"no {metric} point"
    attrs = {k: v for k, v in dict(next(iter(points))).items() if k != "cpu.mode"}
    return sum(points.values()), attrs


def test_a_real_container_cgroup_sees_its_cpu_time_grow(
        container_cgroup: tuple[Path, Path], tmp_path: Path) -> None:
    tree, ctr = container_cgroup
    rig = Rig(host_root(tmp_path, tree), sources="containers")
    before, attrs = cpu_seconds(rig, "container.cpu.time")
    assert attrs == {"k8s.namespace.name": "test", "k8s.pod.name": "burner", "k8s.pod.uid": UID,
                     "k8s.container.name": "burn", "container.id": CID}
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, text=True)
    try:
        try:
            (ctr / "cgroup.procs").write_text(f"{child.pid}\n")
        except OSError as exc:  # a delegation boundary: this process may not move there
            pytest.skip(f"cannot move a process into {ctr}: {exc}")
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    after, _ = cpu_seconds(rig, "container.cpu.time")
    assert after - before >= 0.25  # the child's 0.3 s, charged to its cgroup
    pod, pod_attrs = cpu_seconds(rig, "k8s.pod.cpu.time")
    assert pod >= after and pod_attrs == {"k8s.namespace.name": "test",
                                          "k8s.pod.name": "burner", "k8s.pod.uid": UID}
    assert rig.source("containers").figures() == {"containers": {
        "cgroup": "unified", "pods": 1, "containers": 1}}
