"""The queue directory as a user meets it: one agent at a time (a second one is refused, the
lock is let go even after SIGKILL), a directory that cannot be written is refused at start-up
instead of sending the same batches at every start, what the last run left is indexed, not
read, and bounded with one line, and a full disk leaves no empty files behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from agent.export.outbox import Outbox
from tests.e2e.test_outage import agent_env, queued
from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Receiver, free_port


def _env(env: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    return {**full, "ADK_AGENT_HEALTH_ADDRESS": "", **env}


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("adk-agent: error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_an_empty_queue_dir_is_refused() -> None:
    r = subprocess.run([sys.executable, "-m", "agent", "check"],
                       env=_env({"ADK_AGENT_QUEUE_DIR": ""}), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert _one_error_line(r.stderr).startswith("adk-agent: error: ADK_AGENT_QUEUE_DIR = '': "
                                                "empty")


def test_a_second_agent_on_the_directory_is_refused(receiver: Receiver, agents: list,
                                                    tmp_path: Path) -> None:
    qdir = tmp_path / "queue"
    port = free_port()
    first = AgentProcess(agent_env(receiver, port, ADK_AGENT_QUEUE_DIR=str(qdir)),
                         workdir=tmp_path)
    agents.append(first)
    assert wait_until(lambda: queued(port) >= 0, 30), first.stderr()
    second = subprocess.run([sys.executable, "-m", "agent", "run"],
                            env=_env(agent_env(receiver, free_port(),
                                               ADK_AGENT_QUEUE_DIR=str(qdir))),
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2
    assert f"ADK_AGENT_QUEUE_DIR = '{qdir}' is in use by another running agent " \
           f"(pid {first.proc.pid})" in _one_error_line(second.stderr)
    assert first.proc.poll() is None  # the first one is not disturbed
    first.kill()  # SIGKILL: the kernel lets go of the lock
    third = AgentProcess(agent_env(receiver, port, ADK_AGENT_QUEUE_DIR=str(qdir)),
                         workdir=tmp_path)
    agents.append(third)
    assert wait_until(lambda: queued(port) >= 0, 30), third.stderr()
    assert third.terminate() == 0


def _leave_batches(qdir: Path, n: int, size: int) -> list[bytes]:
    """What a last run that could not deliver leaves: n batches of about `size` bytes."""
    payloads = []
    box = Outbox(n, qdir, max_bytes=n * (size + 100))
    for i in range(n):
        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        rm.schema_url = f"left-{i}"
        rm.resource.attributes.add(key="pad").value.string_value = "x" * size
        payloads.append(req.SerializeToString())
        box.put(payloads[-1], 0)
    box.close()
    return payloads


def test_a_read_only_queue_dir_is_refused_and_left_alone(receiver: Receiver,
                                                         tmp_path: Path) -> None:
    qdir = tmp_path / "queue"
    _leave_batches(qdir, 3, 100)
    before = {p.name: p.read_bytes() for p in qdir.iterdir()}
    env = _env(agent_env(receiver, free_port(), ADK_AGENT_QUEUE_DIR=str(qdir)))
    agent = [sys.executable, "-m", "agent", "run"]
    if os.geteuid() == 0:  # root writes through any mode: a read-only mount it is
        if not shutil.which("unshare"):
            pytest.skip("needs unshare to mount the queue read-only")
        script = (f"mount --bind {qdir} {qdir} && mount -o remount,bind,ro {qdir} && "
                  f"exec {' '.join(agent)}")
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
        why = "Read-only file system"
    else:
        qdir.chmod(0o555)
        cmd, why = agent, "Permission denied"
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    finally:
        qdir.chmod(0o755)
    if os.geteuid() == 0 and "mount:" in r.stderr:
        pytest.skip(f"cannot mount here: {r.stderr.strip()}")
    assert r.returncode == 2, r.stderr
    line = _one_error_line(r.stderr)
    assert f"ADK_AGENT_QUEUE_DIR = '{qdir}' is not writable ({why})" in line
    assert not receiver.requests  # nothing sent that could not be removed
    assert {p.name: p.read_bytes() for p in qdir.iterdir()} == before


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_large_stale_queue_is_indexed_not_read(receiver: Receiver, agents: list,
                                                 tmp_path: Path) -> None:
    """600 batches of 100 KB (a crash loop's worth): the agent starts within its usual
    memory, keeps the newest 500, and says in one line what it dropped and why."""
    qdir = tmp_path / "queue"
    _leave_batches(qdir, 600, 100_000)
    receiver.fail_with(grpc.StatusCode.UNAVAILABLE)  # nothing leaves: the queue stays
    port = free_port()
    agent = AgentProcess(agent_env(receiver, port, ADK_AGENT_QUEUE_DIR=str(qdir),
                                   ADK_AGENT_QUEUE_MAX_BYTES="1GiB",
                                   ADK_AGENT_SHUTDOWN_TIMEOUT="200ms"), workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: queued(port) >= 500, 30), agent.stderr()
    peak = _peak_rss_mib(agent.proc.pid)
    assert agent.terminate() == 0
    err = agent.stderr()
    lines = [line for line in err.splitlines() if "from the last run" in line]
    assert len(lines) == 1, err
    assert "600 batches (57.2 MiB)" in lines[0]
    assert "sending the newest 500 (47.7 MiB) first, dropped the 100 oldest beyond " \
           "ADK_AGENT_QUEUE_MAX_BATCHES=500" in lines[0]
    assert peak < 80, f"peak resident memory {peak:.0f} MiB: the batches were read"


FULL_DISK = """
import json, resource, signal, sys
from pathlib import Path
from agent.export.outbox import Outbox

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
box = Outbox(10, Path(sys.argv[1]))
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
for size in (1000, 10_000, 2000, 50_000):
    box.put(bytes(size), 1)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
sent = []
while (head := box.head()) is not None:
    sent.append(len(head[1]))
    box.pop(head[0])
print(json.dumps({"sent": sent, "left": sorted(p.name for p in Path(sys.argv[1]).iterdir())}))
"""


def test_a_full_disk_leaves_no_empty_files(tmp_path: Path) -> None:
    """Writes that fail part-way (the file size limit stands in for a full disk: the kernel
    fails the write the same way) leave no .tmp behind; those batches stay in memory."""
    qdir = tmp_path / "queue"
    r = subprocess.run([sys.executable, "-c", FULL_DISK, str(qdir)], capture_output=True,
                       text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"sent": [1000, 10_000, 2000, 50_000], "left": ["adkq.lock"]}, r.stderr
    assert r.stderr.count("cannot write the export queue") == 2
    assert "File too large; keeping the batch in memory" in r.stderr
