"""The command line, in-process: check, once, --version, and configuration errors as one line
with exit status 2. (As a subprocess, with the exec into the runner: tests/e2e/test_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import __version__
from agent.cli import main
from tests.paths import REPO

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own exits (--version, a bad flag)
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_config_error_exits_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADK_AGENT_INTERVAL", "fast")
    code, _, err = run(capsys, "run")
    assert code == 2 and err.count("\n") == 1 and "ADK_AGENT_INTERVAL" in err
    monkeypatch.delenv("ADK_AGENT_INTERVAL")
    code, _, err = run(capsys, "--interval", "0s", "check")
    assert code == 2 and "--interval" in err
    code, _, err = run(capsys, "--bogus")
    assert code == 2 and err.count("\n") == 1


def test_check_redacts_headers(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2")
    code, out, err = run(capsys, "check", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert "hunter2" not in out + err and doc["settings"]["headers"] == {"api-key": "<redacted>"}
    code, out, err = run(capsys, "check")
    assert code == 0 and "hunter2" not in out + err and "api-key=<redacted>" in out


def test_check_says_where_each_setting_came_from(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("interval: 30s\nservice_name: from-file\nlog_level: debug\n")
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    monkeypatch.setenv("ADK_AGENT_LOG_LEVEL", "warning")
    _, out, _ = run(capsys, "--interval", "2s", "check", "--format", "json")
    origin = json.loads(out)["from"]
    assert origin["interval"] == "--interval"
    assert origin["log_level"] == "ADK_AGENT_LOG_LEVEL"
    assert origin["service_name"] == "OTEL_SERVICE_NAME"
    assert origin["config"] == "ADK_AGENT_CONFIG"
    assert origin["protocol"] == "default" and origin["endpoint"] == "default for grpc"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    _, out, _ = run(capsys, "check")
    row = next(line for line in out.splitlines() if line.startswith("service_name "))
    assert row.split() == ["service_name", "file", str(cfg), "from-file"]
    assert next(line for line in out.splitlines() if line.startswith("interval ")).split() == [
        "interval", "file", str(cfg), "30s"]


def test_version_and_once_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out
    code, out, err = run(capsys, "once", "--format", "json")
    assert code == 0, err
    names = {m["name"] for m in json.loads(out)["metrics"]}
    assert {"system.cpu.time", "system.memory.usage", "process.cpu.time"} <= names


def test_shipped_example_configs_are_valid(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(REPO / "config" / "agent.yaml"))
    code, _, err = run(capsys, "check")
    assert code == 0, err
    monkeypatch.delenv("ADK_AGENT_CONFIG")
    for line in (REPO / "config" / "agent.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key.strip(), value.strip())
    code, _, err = run(capsys, "check")
    assert code == 0, err
