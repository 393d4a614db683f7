"""Pod and container identity from the kubelet's log directories (fixture node and made-up
changes), with the sandbox told apart and the listings cached until a directory changes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from agent.host import kubelet
from agent.host.kubelet import ContainerIdentity, KubeletLogs, PodIdentity, Role
from tests.paths import FIXTURES

SYSTEMD = FIXTURES / "cgroup-systemd"
POD_A = "1f3a0c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
POD_B = "2b4c6d8e-0a1b-4c2d-9e3f-405162738495"
POD_C = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"
POD_GONE = "99999999-8888-7777-6666-555555555555"
A0, A1, A2, B1, C1, D1 = "a0" * 32, "a1" * 32, "a2" * 32, "b1" * 32, "c1" * 32, "d1" * 32
OLD = time.time() - 3600  # an mtime long enough ago to trust


def logs(root: Path) -> KubeletLogs:
    k = KubeletLogs(str(root))
    k.refresh()
    return k


def node(tmp_path: Path) -> Path:
    """A copy of the fixture node whose log directories were last changed an hour ago."""
    root = tmp_path / "root"
    shutil.copytree(SYSTEMD, root, symlinks=True)
    settle(root)
    return root


def settle(root: Path) -> None:
    for d in ("var/log/pods", "var/log/containers"):
        os.utime(root / d, (OLD, OLD))


# --- names ------------------------------------------------------------------------------------


def test_pod_directory_names() -> None:
    assert kubelet.parse_pod_dir(f"kube-system_etcd-node1_{POD_C}") == \
        PodIdentity("kube-system", "etcd-node1", POD_C)
    for bad in ("default_web", "a_b_c_d", f"_web_{POD_A}", "lost+found"):
        assert kubelet.parse_pod_dir(bad) is None, bad


def test_container_link_names() -> None:
    name = f"web-7d4b9c-x2x5q_shop_side-car-2-{A2}.log"  # container names may hold dashes
    assert kubelet.parse_link(name) == ContainerIdentity("shop", "web-7d4b9c-x2x5q", "side-car-2",
                                                        A2, None)
    for bad in (f"web_shop_app-{A2}.txt", f"web_shop_app-{A2[:-1]}.log", "web_shop_app.log",
                f"web_app-{A2}.log", f"web_shop_app-{A2.upper()}.log"):
        assert kubelet.parse_link(bad) is None, bad


def test_pod_uid_from_a_link_target() -> None:
    assert kubelet.uid_of_target(f"/var/log/pods/shop_web-1_{POD_A}/app/3.log") == POD_A
    assert kubelet.uid_of_target(f"../pods/shop_web-1_{POD_A}/app/0.log") == POD_A
    assert kubelet.uid_of_target("/var/lib/docker/containers/x/x-json.log") is None
    assert kubelet.uid_of_target("0.log") is None


# --- a node -----------------------------------------------------------------------------------


def test_pods_and_containers_of_the_fixture_node() -> None:
    k = logs(SYSTEMD)
    assert k.pod(POD_A) == PodIdentity("shop", "web-7d4b9c-x2x5q", POD_A)
    assert k.pod(POD_C) == PodIdentity("kube-system", "etcd-node1", POD_C)
    assert k.pod(POD_GONE) is not None  # logs outlive their pod; harmless, never looked up
    assert k.container(A1) == ContainerIdentity("shop", "web-7d4b9c-x2x5q", "app", A1, POD_A)
    assert k.container(B1) == ContainerIdentity("jobs", "batch-28512345-abcde", "worker", B1,
                                                POD_B)
    assert k.container(C1) == ContainerIdentity("kube-system", "etcd-node1", "etcd", C1, POD_C)
    assert k.container(A0) is None


def test_roles() -> None:
    k = logs(SYSTEMD)
    assert k.role(A1, POD_A) is Role.WORKLOAD
    assert k.role(A0, POD_A) is Role.SANDBOX  # in a pod, no log: the pause container
    assert k.role(D1, None) is Role.PLAIN


def test_without_the_links_a_pod_container_is_unknown_not_a_sandbox(tmp_path: Path) -> None:
    root = node(tmp_path)
    shutil.rmtree(root / "var/log/containers")
    k = logs(root)
    assert not k.has_links
    assert k.role(A1, POD_A) is Role.UNKNOWN and k.role(A0, POD_A) is Role.UNKNOWN
    assert k.pod(POD_A) is not None  # the pods are still named


def test_no_kubelet_at_all(tmp_path: Path) -> None:
    k = logs(tmp_path)
    assert k.pod(POD_A) is None and k.container(A1) is None
    assert k.role(D1, None) is Role.PLAIN


def test_a_copied_link_that_is_a_file_finds_its_pod_by_name(tmp_path: Path) -> None:
    root = node(tmp_path)
    link = root / f"var/log/containers/web-7d4b9c-x2x5q_shop_app-{A1}.log"
    link.unlink()
    link.write_text("")
    ident = logs(root).container(A1)
    assert ident is not None and ident.pod_uid == POD_A


# --- caching ----------------------------------------------------------------------------------


def test_listed_again_only_when_a_directory_changes(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = node(tmp_path)
    readlinks: list[str] = []
    real = os.readlink
    monkeypatch.setattr(kubelet.os, "readlink", lambda p: readlinks.append(p) or real(p))
    k = logs(root)
    assert (k.listings, len(readlinks)) == (2, 4)
    for _ in range(3):
        k.refresh()
    assert (k.listings, len(readlinks)) == (2, 4)  # two stat calls a refresh, nothing more

    # the kubelet starts a container: one link more, one listing and one readlink more
    new = "e7" * 32
    os.symlink(f"/var/log/pods/shop_web-7d4b9c-x2x5q_{POD_A}/debug/0.log",
               root / f"var/log/containers/web-7d4b9c-x2x5q_shop_debug-{new}.log")
    settle(root)
    os.utime(root / "var/log/containers", (OLD + 60, OLD + 60))
    k.refresh()
    assert (k.listings, len(readlinks)) == (3, 5)
    assert k.role(new, POD_A) is Role.WORKLOAD
    assert k.container(new) == ContainerIdentity("shop", "web-7d4b9c-x2x5q", "debug", new, POD_A)


def test_a_container_counts_as_sandbox_until_its_link_appears(tmp_path: Path) -> None:
    root = node(tmp_path)
    k = logs(root)
    new = "e8" * 32
    assert k.role(new, POD_A) is Role.SANDBOX  # its cgroup came first
    os.symlink(f"/var/log/pods/shop_web-7d4b9c-x2x5q_{POD_A}/late/0.log",
               root / f"var/log/containers/web-7d4b9c-x2x5q_shop_late-{new}.log")
    k.refresh()
    assert k.role(new, POD_A) is Role.WORKLOAD


def test_a_removed_link_takes_its_container_with_it(tmp_path: Path) -> None:
    root = node(tmp_path)
    k = logs(root)
    (root / f"var/log/containers/web-7d4b9c-x2x5q_shop_app-{A1}.log").unlink()
    k.refresh()
    assert k.container(A1) is None and k.container(A2) is not None


def test_a_change_too_recent_to_trust_is_listed_once_more(tmp_path: Path) -> None:
    """A directory's mtime ticks coarsely: an entry added in the same tick as a listing leaves
    the mtime unchanged, so a listing of a just-changed directory is repeated next time."""
    root = node(tmp_path)
    now = time.time()
    os.utime(root / "var/log/pods", (now, now))
    k = logs(root)
    assert k.listings == 2
    k.refresh()
    assert k.listings == 3  # var/log/pods again: its mtime was too fresh to trust
    os.utime(root / "var/log/pods", (OLD, OLD))
    k.refresh()
    k.refresh()
    assert k.listings == 4  # changed once more (to OLD), then trusted
