"""The command as a user runs it (a subprocess, exec'd into the runner): configuration errors
are one line and exit 2; the log lines are JSON when asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import AgentProcess, wait_until
from tests.paths import HOSTROOT


@pytest.mark.parametrize("env", [
    {"ADK_AGENT_INTERVAL": "1e309"}, {"OTEL_EXPORTER_OTLP_HEADERS": "=x"},
    {"ADK_AGENT_CONFIG": "/etc"}, {"ADK_AGENT_QUEUE_MAX_BATCHES": "0"},
    {"ADK_AGENT_HEALTH_ADDRESS": "256.0.0.1:99"}, {"ADK_AGENT_PROCESSES": "pid:-1"},
])
def test_the_command_exits_2_with_one_line(env: dict[str, str]) -> None:
    full = {k: v for k, v in os.environ.items()}
    full.update(env)
    r = subprocess.run([sys.executable, "-m", "agent", "run"], env=full, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("target", ["top:cpu:0", "top:disk:3", "top:cpu:x"])
def test_a_bad_top_target_exits_2_naming_the_setting(target: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env["ADK_AGENT_PROCESSES"] = f"self,{target}"
    r = subprocess.run([sys.executable, "-m", "agent", "run"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "ADK_AGENT_PROCESSES" in r.stderr and repr(target) in r.stderr


@pytest.mark.parametrize(("variable", "named"), [
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "ADK_AGENT_CERTIFICATE"),
    ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "ADK_AGENT_CLIENT_CERTIFICATE"),
])
def test_a_certificate_file_that_is_not_one(tmp_path: Path, variable: str, named: str) -> None:
    garbage = tmp_path / "not-a.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:4317", variable: str(garbage),
                "ADK_AGENT_HEALTH_ADDRESS": ""})
    if "CLIENT" in variable:  # the key goes with it
        env["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = str(garbage)
    r = subprocess.run([sys.executable, "-m", "agent", "run"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and named in r.stderr and str(garbage) in r.stderr


def test_json_lines_from_the_command(tmp_path: Path) -> None:
    agent = AgentProcess({"ADK_AGENT_LOG_FORMAT": "json", "ADK_AGENT_EXPORTER": "none",
                          "ADK_AGENT_INTERVAL": "100ms"}, workdir=tmp_path)
    try:
        assert wait_until(lambda: "exporting" in agent.stderr(), 20), agent.stderr()
        assert agent.terminate() == 0
    finally:
        agent.kill()
    lines = agent.stderr().strip().splitlines()
    docs = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {d["level"] for d in docs} <= {"info", "warning", "error"}
    assert any("stopping" in d["message"] for d in docs)




def test_fifos_where_files_belong_never_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "headers"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
    env.update({"ADK_AGENT_HEADERS_FILE": str(fifo), "ADK_AGENT_HEALTH_ADDRESS": ""})
    for command in ("check", "run"):  # would wait for a writer forever
        r = subprocess.run([sys.executable, "-m", "agent", command], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "not a regular file (a FIFO)" in r.stderr, r.stderr
        assert "ADK_AGENT_HEADERS_FILE" in r.stderr and r.stderr.count("\n") == 1
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    for name in ("etc/hostname", "proc/meminfo"):
        (root / name).unlink()
        os.mkfifo(root / name)
    agent = AgentProcess({"ADK_AGENT_ROOT_PATH": str(root), "ADK_AGENT_EXPORTER": "none",
                          "ADK_AGENT_INTERVAL": "100ms"}, workdir=tmp_path)
    try:
        assert wait_until(lambda: "exporting" in agent.stderr(), 20), agent.stderr()
        assert agent.terminate() == 0  # one SIGTERM
    finally:
        agent.kill()
    err = agent.stderr()
    assert f"{root}/etc/hostname: not a regular file (a FIFO)" in err
    assert f"not a regular file (a FIFO): {root}/proc/meminfo" in err  # memory fails alone
