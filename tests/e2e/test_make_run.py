"""`make run` as a newcomer meets it: the agent pushing to a local Rotel collector in a
terminal, then Ctrl-C. The terminal's SIGINT must stop the agent first, so its final export
still reaches the collector, and the collector after it; the last lines say so.

Runs the Makefile's real recipe under a pseudo-terminal that is the controlling terminal of
the session, so the ^C byte becomes SIGINT for the foreground process group exactly as a
terminal's would. The environment of the Python running the tests stands in for `.venv`
(nothing is installed: `-o` keeps make from remaking the venv).
"""

from __future__ import annotations

import importlib.util
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.harness import free_port, wait_until
from tests.paths import REPO

ROOT = REPO
ANSI = re.compile(r"\x1b\[[0-9;]*m")
AGENT_LOG = re.compile(r" [A-Z]+ agent(\.\w+)?: ")
DELIVERED = re.compile(r"INFO agent\.export: stopped: every batch sent, (\d+) points delivered "
                       r"to (\S+) since start$")

TAKE_TERMINAL = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                 "os.execvp(sys.argv[1], sys.argv[1:])")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or os.name != "posix" or sys.platform != "linux",
    reason="needs make and a Linux pseudo-terminal")


class Terminal:
    """A command in a session of its own whose controlling terminal is a pty we hold."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        # The new session (setsid) takes the pty as its controlling terminal, then runs argv.
        self.proc = subprocess.Popen([sys.executable, "-c", TAKE_TERMINAL, *argv], cwd=ROOT,
                                     env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self._out = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every holder of the slave side has gone
                return
            if not chunk:
                return
            with self._lock:
                self._out += chunk

    def text(self) -> str:
        with self._lock:
            raw = bytes(self._out)
        return ANSI.sub("", raw.decode(errors="replace").replace("\r", ""))

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")  # the tty's INTR character: SIGINT to the foreground

    def left_running(self) -> list[psutil.Process]:
        """Processes still in the session (the collector runs in a process group of its own,
        but in the same session)."""
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.proc.pid:
                    found.append(proc)
            except (ProcessLookupError, PermissionError):
                continue
        return found

    def close(self) -> None:
        for proc in self.left_running():
            proc.kill()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        os.close(self.master)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_the_agent_first_and_everything_is_delivered() -> None:
    venv = Path(sys.prefix)
    if not (venv / "bin" / "adk-agent").is_file() or importlib.util.find_spec("rotel") is None:
        pytest.skip("adk-agent and rotel must be installed in the running environment "
                    "(pip install -e '.[test]')")
    grpc_port, http_port, health_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ADK_AGENT_", "OTEL_", "MAKE", "MFLAGS"))}
    env.update(TERM="dumb", ADK_AGENT_HEALTH_ADDRESS=f"127.0.0.1:{health_port}")
    term = Terminal(["make", "--no-print-directory", "-o", f"{venv}/.installed", "run",
                     f"VENV={venv}", "INTERVAL=1s", f"GRPC_PORT={grpc_port}",
                     f"HTTP_PORT={http_port}"], env)
    try:
        # Two batches reached the collector (its debug log prints each one's scope).
        assert wait_until(lambda: term.text().count("InstrumentationScope adk-agent") >= 2, 60), \
            term.text()[-3000:]
        before = len(term.text())
        term.ctrl_c()
        try:
            status = term.proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail("make run did not stop within 30 s of Ctrl-C:\n" + term.text()[-3000:])
        # make dies of the SIGINT it was sent, as any foreground program stopped by Ctrl-C.
        assert status in (-signal.SIGINT, 130), status
        assert wait_until(lambda: not term.left_running(), 10), term.left_running()
        assert not listening(grpc_port), "the collector is still listening"

        after = [ln for ln in term.text()[before:].splitlines() if ln.strip()]
        tail = "\n".join(after[-20:])
        assert not [ln for ln in after if re.search(r" (WARN|WARNING|ERROR) |not delivered", ln)], \
            tail
        agent_lines = [i for i, ln in enumerate(after) if AGENT_LOG.search(ln)]
        assert [after[i].split(": ", 1)[1] for i in agent_lines[:1]] == \
            ["stopping: final export"], tail
        last = agent_lines[-1]
        m = DELIVERED.search(after[last])
        assert m, tail
        assert int(m[1]) > 0 and m[2] == f"http://127.0.0.1:{grpc_port}"
        # The agent's line closes the output; only the collector's own shutdown line
        # (it is stopped after the agent) may follow it.
        assert all("Shutdown signal received" in ln for ln in after[last + 1:]), tail
    finally:
        term.close()
