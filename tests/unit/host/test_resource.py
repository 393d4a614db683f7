"""The resource: host identity through the host root, Kubernetes and version attributes."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import pytest

from agent.host.paths import HostFS
from agent.host.resource import build_resource, host_attributes
from tests.paths import HOSTROOT
from tests.unit.rig import config


def test_a_host_root_gives_the_hosts_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8S_NODE_NAME", raising=False)
    attrs = host_attributes(HostFS(str(HOSTROOT)))
    assert attrs["host.name"] == "fixture-node"
    assert attrs["host.id"] == "0123456789abcdef0123456789abcdef"
    assert attrs["os.description"].startswith("Fixture Linux 1.0 (Linux ")


def test_kubernetes_and_version_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_NODE_NAME", "node-1")
    monkeypatch.setenv("K8S_POD_UID", "uid-1")
    cfg = config(service_version="1.2.3", git_commit="abc",
                 resource_attributes="deployment.environment.name=prod")
    attrs = build_resource(cfg, HostFS(str(HOSTROOT)))
    assert attrs["k8s.node.name"] == "node-1" and attrs["service.version"] == "1.2.3"
    assert attrs["vcs.ref.head.revision"] == "abc"
    assert attrs["deployment.environment.name"] == "prod"
    again = build_resource(cfg, HostFS(str(HOSTROOT)))
    assert attrs["service.instance.id"] == again["service.instance.id"]  # stable


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text(
        "# managed by cloud-init\n\n  localhost.localdomain\n")
    return tmp_path


def test_comments_and_blank_lines_of_etc_hostname_are_skipped(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8S_NODE_NAME", raising=False)
    assert host_attributes(HostFS(str(root)))["host.name"] == "localhost.localdomain"


def test_through_a_host_root_the_node_name_is_the_host_name(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_NODE_NAME", "node-7")
    assert host_attributes(HostFS(str(root)))["host.name"] == "node-7"
    # without a host root (a sidecar, a systemd unit) the name is this host's own
    monkeypatch.setattr("socket.gethostname", lambda: "pod-or-host")
    assert host_attributes(HostFS("/"))["host.name"] == "pod-or-host"


def test_unusable_identity_files_are_named_and_skipped(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    (root / "etc" / "machine-id").write_bytes(b"\xff\xfe0123\n")  # not UTF-8
    (root / "etc" / "os-release").write_bytes(b'PRETTY_NAME="Caf\xe9 OS"\n')
    (root / "etc" / "hostname").unlink()
    os.mkfifo(root / "etc" / "hostname")  # would block open() until a writer came
    caplog.set_level(logging.WARNING)
    done: list[dict[str, str]] = []
    worker = threading.Thread(target=lambda: done.append(host_attributes(HostFS(str(root)))),
                              daemon=True)
    worker.start()
    worker.join(5)
    assert done, "start-up blocked on a FIFO"
    attrs = done[0]
    assert "host.id" not in attrs and "host.name" not in attrs
    assert attrs["os.description"].startswith("Linux ")  # the kernel alone
    lines = caplog.text.splitlines()
    for name in ("machine-id", "os-release", "hostname"):
        assert sum(f"etc/{name}" in line for line in lines) == 1, caplog.text
