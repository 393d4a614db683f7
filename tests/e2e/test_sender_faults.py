"""The sender thread lives on: a headers file that turns into something unreadable (not UTF-8,
a FIFO, a directory, no permission, deleted) keeps the previous headers with one line naming
the file; an unexpected error in a round is logged and the next round runs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cycles import drained, exporter, push
from tests.otlp_receiver import Receiver


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("ADK_AGENT_", "OTEL_")):
            monkeypatch.delenv(key)


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
    "fifo": (_fifo, "a FIFO, not a regular file"),
    "directory": (_directory, "a directory, not a regular file"),
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
