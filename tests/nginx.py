"""Debian's nginx as a test subprocess: an h2c listener proxying gRPC (`grpc_pass`) to an
upstream on loopback, as it sits in front of collectors. Tests that need it skip, saying
why, where nginx is not installed (.ci/run installs it when it runs as root)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from tests.collector import accepts
from tests.otlp_receiver import free_port

SEARCH = "/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin"


def nginx_binary() -> str:
    """The nginx executable, or a skip of the calling test with the reason."""
    found = shutil.which("nginx") or shutil.which("nginx", path=SEARCH)
    if found is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; .ci/run does "
                    "it when run as root)")
    return found


class Nginx:
    """`nginx` in the foreground, one process, on a free loopback port, with its files in
    `workdir`. `keepalive_requests` is how many requests one client connection serves before
    nginx sends GOAWAY (its HTTP/2 request limit); a body over `max_body` gets HTTP 413."""

    def __init__(self, upstream_port: int, workdir: Path, keepalive_requests: int = 1000,
                 max_body: str = "64m") -> None:
        self.binary = nginx_binary()
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        temp = " ".join(f"{kind}_temp_path {workdir}/{kind};" for kind in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/access.log;
    {temp}
    server {{
        listen 127.0.0.1:{self.port} http2;
        keepalive_requests {keepalive_requests};
        client_max_body_size {max_body};
        location / {{ grpc_pass grpc://127.0.0.1:{upstream_port}; }}
    }}
}}
""")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        with open(self.workdir / "error.log", "ab") as err:
            self._proc = subprocess.Popen(
                [self.binary, "-p", str(self.workdir), "-c", str(self.conf), "-e",
                 str(self.workdir / "error.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while not accepts(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start: {self.log()}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self) -> str:
        try:
            return (self.workdir / "error.log").read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
