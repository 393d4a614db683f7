"""The agent as the DaemonSet runs it: a non-root user, the host's / bind-mounted read-only at
a path of its own, a read-only working directory, and the environment of the manifest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from tests.collector import Rotel
from tests.harness import free_port, wait_until
from tests.otlp_receiver import Receiver
from tests.paths import REPO

DEPLOY = REPO / "deploy" / "kubernetes"
NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="needs root (to bind-mount and drop to another user), unshare and setpriv")


def manifest_env(overrides: dict[str, str]) -> dict[str, str]:
    """The container's env list, resolved as the kubelet would (downward API, ConfigMap)."""
    ds = yaml.safe_load((DEPLOY / "daemonset.yaml").read_text())
    cm = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())["data"]
    (container,) = [c for c in ds["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "adk-agent"]
    fields = {"status.hostIP": "127.0.0.1", "spec.nodeName": "node-under-test",
              "metadata.name": "adk-agent-abcde", "metadata.namespace": "adk-agent",
              "metadata.uid": str(uuid.uuid4())}
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            value = str(item["value"])
            for name, resolved in env.items():
                value = value.replace(f"$({name})", resolved)
            env[item["name"]] = value
        elif "fieldRef" in item["valueFrom"]:
            env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
        elif "configMapKeyRef" in item["valueFrom"]:
            env[item["name"]] = str(cm[item["valueFrom"]["configMapKeyRef"]["key"]])
    assert env["ADK_AGENT_ROOT_PATH"] == "/hostfs"
    env.update(overrides)
    return env


def test_the_daemonset_pushes_the_hosts_metrics(receiver: Receiver, rotel: Rotel) -> None:
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups", sys.executable, "-c", "import agent.runner"],
                           capture_output=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip("this checkout or its Python cannot be read by an unprivileged user")
    tmp_path = Path(tempfile.mkdtemp(prefix="adk-ds-"))  # pytest's tmp is private to root
    tmp_path.chmod(0o755)
    hostfs = tmp_path / "hostfs"
    hostfs.mkdir()
    workdir = tmp_path / "readonly-cwd"
    workdir.mkdir()
    workdir.chmod(0o555)  # the user cannot write where it runs
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "headers").write_text("x-api-key=from-secret\n")
    secret.chmod(0o755)
    port = free_port()
    env = manifest_env({
        # the collector of the test instead of $(HOST_IP):4317, the mount under the test's tmp
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel.grpc_endpoint,
        "ADK_AGENT_ROOT_PATH": str(hostfs),
        "ADK_AGENT_HEADERS_FILE": str(secret / "headers"),
        "ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{port}",
        "ADK_AGENT_QUEUE_DIR": "",
        "ADK_AGENT_INTERVAL": "500ms",
    })
    env = {k: v for k, v in env.items() if v != ""}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    script = (f"mount --rbind / {hostfs} && mount -o remount,bind,ro {hostfs} && "
              f"exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "
              f"{sys.executable} -m agent run")
    err = tmp_path / "agent.err"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "slave", "sh", "-c", script],
                                env=env, cwd=workdir, stderr=stderr, start_new_session=True)
    try:
        assert wait_until(lambda: len(receiver.cycles()) >= 3, 30), err.read_text()
        points = receiver.points()
        res = points[0].resource
        assert res["k8s.node.name"] == "node-under-test"
        assert res["k8s.namespace.name"] == "adk-agent"
        assert res["host.name"] == "node-under-test"  # through a host root: the node's name
        nics = {p.attributes["network.interface.name"] for p in points
                if p.name == "system.network.io"}
        host_nics = {line.split(":")[0].strip()
                     for line in Path("/proc/1/net/dev").read_text().splitlines()[2:]}
        assert nics == host_nics
        mounts = {p.attributes["system.filesystem.mountpoint"] for p in points
                  if p.name == "system.filesystem.usage"}
        assert "/" in mounts and not any(str(tmp_path) in m for m in mounts), mounts
        owner = {p.attributes.get("process.pid") for p in points if p.name == "process.cpu.time"}
        assert owner == {proc.pid}  # exec all the way down: the pid is the agent's
        os.killpg(proc.pid, 15)
        assert proc.wait(20) == 0, err.read_text()
        assert "Traceback" not in err.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        workdir.chmod(0o755)
        shutil.rmtree(tmp_path, ignore_errors=True)
