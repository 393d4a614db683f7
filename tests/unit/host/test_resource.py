"""The resource: host identity through the host root, Kubernetes and version attributes."""

from __future__ import annotations

import pytest

from agent.host.paths import HostFS
from agent.host.resource import build_resource, host_attributes
from tests.paths import HOSTROOT
from tests.unit.rig import config


def test_a_host_root_gives_the_hosts_identity() -> None:
    attrs = host_attributes(HostFS(str(HOSTROOT)))
    assert attrs["host.name"] == "fixture-node"
    assert attrs["host.id"] == "0123456789abcdef0123456789abcdef"
    assert attrs["os.description"].startswith("Fixture Linux 1.0 (Linux ")


def test_kubernetes_and_version_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_NODE_NAME", "node-1")
    monkeypatch.setenv("K8S_POD_UID", "uid-1")
    cfg = config(service_version="1.2.3", git_commit="abc",
                 resource_attributes="deployment.environment.name=prod")
    attrs = build_resource(cfg, HostFS(str(HOSTROOT))).attributes
    assert attrs["k8s.node.name"] == "node-1" and attrs["service.version"] == "1.2.3"
    assert attrs["vcs.ref.head.revision"] == "abc"
    assert attrs["deployment.environment.name"] == "prod"
    again = build_resource(cfg, HostFS(str(HOSTROOT))).attributes
    assert attrs["service.instance.id"] == again["service.instance.id"]  # stable
