"""End-to-end helpers: the agent as a subprocess, an OTLP/HTTP receiver with TLS, test
certificates. The OTLP/gRPC receiver is tests/otlp_receiver.py, Rotel is tests/collector.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from tests.otlp_receiver import free_port


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll a condition until it holds or the time is up (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


class AgentProcess:
    """`adk-agent run` as a user would start it: a subprocess configured by environment."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ("run",),
                 workdir: Path | None = None, nofile: int | None = None) -> None:
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("ADK_AGENT_", "OTEL_", "K8S_"))}
        full.setdefault("ADK_AGENT_HEALTH_ADDRESS", "")
        full.update(env)
        self.stderr_path = (workdir or Path(".")) / f"agent-{free_port()}.err"
        self._err = open(self.stderr_path, "wb")  # noqa: SIM115 - the child's stderr
        def limit() -> None:  # `ulimit -n` for the agent alone
            if nofile is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen([sys.executable, "-m", "agent", *args], env=full,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     start_new_session=True,
                                     preexec_fn=limit if nofile is not None else None)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class HttpReceiver:
    """OTLP/HTTP (protobuf) on /v1/metrics, optionally over TLS that requires a client cert."""

    def __init__(self, tls: dict[str, Path] | None = None) -> None:
        import http.server
        import ssl

        owner = self
        self.requests: list[Any] = []
        self.headers: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.headers.append(dict(self.headers.items()))
                owner.requests.append(
                    metrics_service_pb2.ExportMetricsServiceRequest.FromString(body))
                out = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        scheme = "http"
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls["ca"]))
            ctx.load_cert_chain(str(tls["cert"]), str(tls["key"]))
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.endpoint = f"{scheme}://127.0.0.1:{self.port}/v1/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HttpReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_certs(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=adk-test-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        (directory / f"{name}.ext").write_text(ext + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return {"ca": directory / "ca.pem", "cert": directory / "server.pem",
            "key": directory / "server.key", "client_cert": directory / "client.pem",
            "client_key": directory / "client.key"}
