"""The Rotel OTLP collector (the ``rotel-agent`` binary from the ``rotel`` PyPI package) as a
test subprocess: OTLP/gRPC and OTLP/HTTP receivers on loopback ports, forwarding metrics over
OTLP/gRPC to a :class:`~tests.otlp_receiver.Receiver` (or dropping them: ``blackhole``).

Its ports are chosen when the object is built, so an exporter can be pointed at a collector
that is started only later::

    collector = Rotel(receiver)
    ...  # configure something with collector.grpc_endpoint; it fails to connect
    with collector:  # start() ... stop()
        ...
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.otlp_receiver import Receiver, free_port

START_TIMEOUT = 10.0
"""Seconds :meth:`Rotel.start` waits for both receiver ports to accept connections."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rotel_binary() -> Path:
    """The ``rotel-agent`` executable shipped inside the installed ``rotel`` package."""
    spec = importlib.util.find_spec("rotel")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the rotel package is not installed (pip install rotel)")
    return Path(spec.submodule_search_locations[0]) / "rotel-agent"


def accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP connection to ``host:port`` succeeds right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class Rotel:
    """A ``rotel-agent start`` subprocess (foreground) on two fixed loopback ports.

    ``downstream`` is where metrics are forwarded over OTLP/gRPC: a :class:`Receiver`, an
    endpoint (``127.0.0.1:PORT`` or ``http://127.0.0.1:PORT``), or None for the ``blackhole``
    exporter. ``workdir`` holds its pid file and output (a private temporary directory by
    default, removed with the object).

    The defaults make it forward quickly (``batch_timeout``) and retry a failing downstream
    every few hundred milliseconds rather than after Rotel's 5 s initial backoff; data that
    cannot be delivered within ``retry_max_elapsed_time`` is dropped. ``debug_log="metrics"``
    makes it log what it receives. ``extra_args`` are appended to the command line.

    The process is killed when the object is garbage collected or the interpreter exits, but
    tests should call :meth:`stop` (the ``rotel`` fixture does).
    """

    def __init__(self, downstream: Receiver | str | None = None, workdir: Path | None = None,
                 *, batch_timeout: str = "50ms", retry_initial_backoff: str = "100ms",
                 retry_max_backoff: str = "500ms", retry_max_elapsed_time: str = "60s",
                 request_timeout: str = "2s", debug_log: str | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        if isinstance(downstream, Receiver):
            downstream = downstream.endpoint
        if downstream is not None and "://" not in downstream:
            downstream = f"http://{downstream}"  # rotel rejects an endpoint without a scheme
        self.downstream: str | None = downstream
        self.grpc_port: int = free_port()
        self.http_port: int = free_port()
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="rotel-"))
            weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True)
        self.workdir: Path = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._output = self.workdir / f"rotel-{self.grpc_port}.out"
        self._options = [
            "--batch-timeout", batch_timeout,
            "--otlp-exporter-retry-initial-backoff", retry_initial_backoff,
            "--otlp-exporter-retry-max-backoff", retry_max_backoff,
            "--otlp-exporter-retry-max-elapsed-time", retry_max_elapsed_time,
            "--otlp-exporter-request-timeout", request_timeout,
        ]
        if debug_log is not None:
            self._options += ["--debug-log", debug_log]
        self._options += list(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def grpc_endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` of its OTLP/gRPC receiver."""
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` of its OTLP/HTTP receiver (base URL, no ``/v1/metrics``)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def http_metrics_url(self) -> str:
        """The full OTLP/HTTP metrics URL, as an exporter's explicit ``endpoint=`` wants it."""
        return f"{self.http_endpoint}/v1/metrics"

    def command(self) -> list[str]:
        """The command line :meth:`start` runs."""
        cmd = [str(rotel_binary()), "start",
               "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
               "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
               "--pid-file", str(self.workdir / f"rotel-{self.grpc_port}.pid"),
               "--log-file", str(self.workdir / f"rotel-{self.grpc_port}.log")]
        if self.downstream is None:
            cmd += ["--exporter", "blackhole"]
        else:
            cmd += ["--exporter", "otlp", "--otlp-exporter-endpoint", self.downstream,
                    "--otlp-exporter-protocol", "grpc"]
        return cmd + self._options

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while started, else None."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start the collector; return once both its ports accept connections.

        Raises RuntimeError (with its output) if it exits or is not ready in ``timeout``.
        """
        if self.running:
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROTEL_")}
        env["NO_COLOR"] = "1"
        self._log = open(self._output, "ab")  # noqa: SIM115 - the child's stdout, closed in stop()
        proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                stderr=subprocess.STDOUT, env=env)
        self._proc = proc
        weakref.finalize(self, _kill, proc)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not (accepts(self.grpc_port) and accepts(self.http_port)):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rotel not ready after {timeout}s:\n{self.log_text()}")
            time.sleep(0.01)
        if proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"rotel exited with {proc.returncode}:\n{self.log_text()}")
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the collector and wait for it (SIGKILL after ``timeout``); its exit code.

        Batches it has not yet delivered are lost. Safe to call when not running.
        """
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _kill(proc)
            code = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        """SIGKILL the collector at once (a crash, not a shutdown)."""
        if self._proc is not None:
            _kill(self._proc)
        self.stop()

    def restart(self, timeout: float = START_TIMEOUT) -> Self:
        """:meth:`stop` then :meth:`start`, on the same ports."""
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        """Everything the collector printed (all runs of this object), colour codes removed."""
        try:
            return _ANSI.sub("", self._output.read_text(errors="replace"))
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return (f"Rotel(grpc={self.grpc_port}, http={self.http_port}, "
                f"downstream={self.downstream or 'blackhole'}, {state})")
