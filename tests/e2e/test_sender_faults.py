"""The sender thread lives on: a headers file that turns into something unreadable (not UTF-8,
a FIFO, a directory, no permission, deleted) keeps the previous headers with one line naming
the file; an unexpected error in a round is logged and the next round runs; and a collector
that echoes the token it refused never puts it in a log line, /health or /readyz."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from tests.cycles import drained, exporter, push
from tests.e2e.test_outage import agent_env
from tests.harness import AgentProcess, wait_until
from tests.otlp_receiver import Receiver, free_port

SECRET = "s3cr3t-t0ken"


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"x-api-key=caf\xe9\xff\n")


def _deleted(path: Path) -> None:
    path.unlink()


def _unreadable(path: Path) -> None:  # a Secret replaced by a file the agent may not read
    path.write_text("x-api-key=second\n")
    path.chmod(0)


def _restore(path: Path) -> None:
    if path.is_dir():
        path.rmdir()
    elif path.exists() or path.is_fifo():
        path.chmod(0o600)
        path.unlink()


BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "not a regular file (a FIFO)"),
    "directory": (_directory, "not a regular file (a directory)"),
    "not-utf8": (_not_utf8, "is not printable ASCII"),
    "deleted": (_deleted, "No such file or directory"),
    "unreadable": (_unreadable, "Permission denied"),
}


@pytest.mark.parametrize("how", list(BREAKS))
def test_a_headers_file_that_cannot_be_read_keeps_the_sender(
        receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str) -> None:
    if how == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    breaks, says = BREAKS[how]
    headers = tmp_path / "headers"
    headers.write_text("x-api-key=first\n")
    with exporter(f"http://{receiver.endpoint}", headers_file=str(headers)) as exp, \
            caplog.at_level(logging.WARNING, logger="agent.export"):
        push(exp, range(1))
        assert drained(exp) and receiver.metadata[-1]["x-api-key"] == "first"
        breaks(headers)
        push(exp, range(1, 3))
        assert drained(exp, 10), f"the sender is stuck: {exp.status}"
        assert exp.sender_alive()
        assert [m["x-api-key"] for m in receiver.metadata] == ["first"] * 3
        assert f"ADK_AGENT_HEADERS_FILE {headers}" in caplog.text, caplog.text
        assert says in caplog.text and "keeping the previous headers" in caplog.text
        _restore(headers)
        headers.write_text("x-api-key=second\n")  # fixed: picked up at the next send
        push(exp, range(3, 4))
        assert drained(exp, 10) and receiver.metadata[-1]["x-api-key"] == "second"
    assert caplog.text.count("keeping the previous headers") == 1


def test_an_unexpected_error_does_not_end_the_sender(
        receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    with exporter(f"http://{receiver.endpoint}") as exp, \
            caplog.at_level(logging.ERROR, logger="agent.export"):
        real, calls = exp.outbox.head, []

        def head() -> object:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("a bug in the sender's round")
            return real()

        monkeypatch.setattr(exp.outbox, "head", head)
        push(exp, range(2))
        assert drained(exp, 10) and exp.sender_alive()
    assert "export sender: RuntimeError: a bug in the sender's round" in caplog.text
    assert len(receiver.requests) == 2


def _get(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return str(r.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())
    except OSError:  # not listening yet
        return ""


@pytest.mark.parametrize("value", [f"Bearer%20{SECRET}%20", f"%20{SECRET}%09"])
def test_a_token_the_collector_echoes_is_never_shown(receiver: Receiver, agents: list,
                                                     tmp_path: Path, value: str) -> None:
    """Percent-encoded blanks around the value are trimmed; whatever comes back quoting it
    is redacted in the warning, /health and the /readyz reason."""
    receiver.fail_with(grpc.StatusCode.UNAUTHENTICATED, echo="authorization")
    port = free_port()
    agent = AgentProcess(agent_env(receiver, port, ADK_AGENT_SHUTDOWN_TIMEOUT="200ms",
                                   OTEL_EXPORTER_OTLP_HEADERS=f"authorization={value}"),
                         workdir=tmp_path)
    agents.append(agent)
    assert wait_until(lambda: "redacted" in _get(port, "/readyz"), 30), agent.stderr()
    health, ready = _get(port, "/health"), _get(port, "/readyz")
    assert receiver.metadata[-1]["authorization"] in (f"Bearer {SECRET}", SECRET)
    assert json.loads(health)["last_export"]["error"].startswith("UNAUTHENTICATED")
    assert agent.terminate() == 0
    err = agent.stderr()
    assert "export to" in err and "UNAUTHENTICATED" in err
    for text in (err, health, ready):
        assert SECRET not in text, text


def test_the_redactor_takes_out_the_value_and_its_credential() -> None:
    from agent.config.headers import redactor

    redact = redactor([f"Bearer {SECRET}", "acme", "x"])
    text = f"bad 'Bearer {SECRET}', token {SECRET}, escaped Bearer%20{SECRET}, tenant acme x"
    assert redact(text) == ("bad '<redacted>', token <redacted>, escaped <redacted>, tenant "
                            "<redacted> x")
    assert redact("nothing here") == "nothing here"
