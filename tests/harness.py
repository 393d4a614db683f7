"""End-to-end harness: an in-test OTLP metrics receiver (opentelemetry-proto + grpcio) and a
real Rotel collector forwarding to it, plus the agent as a subprocess."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class Point:
    name: str
    kind: str  # "sum" | "gauge"
    unit: str
    monotonic: bool | None
    attributes: dict[str, Any]
    value: float
    time_unix_nano: int
    start_time_unix_nano: int
    resource: dict[str, Any] = field(hash=False)


class _Service(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.r = receiver

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.r.lock:
            self.r.metadata.append(dict(context.invocation_metadata()))
            code = self.r.failure
            if code is not None and self.r.fail_times != 0:
                self.r.fail_times -= 1
                self.r.rejected += 1
            else:
                code = None
                self.r.requests.append(request)
        if code is not None:
            context.abort(code, "injected failure")
        return metrics_service_pb2.ExportMetricsServiceResponse()


class Receiver:
    """Records every ExportMetricsServiceRequest; can be told to fail with a gRPC status."""

    def __init__(self, credentials: grpc.ServerCredentials | None = None) -> None:
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.requests: list[Any] = []
        self.metadata: list[dict[str, str]] = []  # headers of every call, failed ones too
        self.lock = threading.Lock()
        self.failure: grpc.StatusCode | None = None
        self.fail_times = -1  # -1: until recover()
        self.rejected = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Service(self), self.server)
        if credentials is None:
            self.server.add_insecure_port(self.endpoint)
        else:
            self.server.add_secure_port(self.endpoint, credentials)

    def start(self) -> Receiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(0)

    def fail_with(self, code: grpc.StatusCode, times: int = -1) -> None:
        with self.lock:
            self.failure, self.fail_times = code, times

    def recover(self) -> None:
        with self.lock:
            self.failure = None

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self.requests)

    def points(self, requests: list[Any] | None = None) -> list[Point]:
        out = []
        for req in requests if requests is not None else self.snapshot():
            for rm in req.resource_metrics:
                resource = _attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        data = getattr(m, kind)
                        mono = data.is_monotonic if kind == "sum" else None
                        for dp in data.data_points:
                            value = dp.as_double if dp.WhichOneof("value") == "as_double" \
                                else dp.as_int
                            out.append(Point(m.name, kind, m.unit, mono, _attrs(dp.attributes),
                                             value, dp.time_unix_nano, dp.start_time_unix_nano,
                                             resource))
        return out

    def names(self) -> set[str]:
        return {p.name for p in self.points()}

    def cycles(self) -> list[int]:
        """Distinct collection times seen (one per exported cycle), in arrival order."""
        seen: dict[int, None] = {}
        for p in self.points():
            if p.name == "system.uptime" or p.name == "adk_system_uptime_seconds":
                seen[p.time_unix_nano] = None
        return list(seen)


def rotel_binary() -> str:
    spec = importlib.util.find_spec("rotel")
    assert spec and spec.submodule_search_locations
    return os.path.join(spec.submodule_search_locations[0], "rotel-agent")


class Rotel:
    """The Rotel OTLP collector on loopback ports, forwarding to a Receiver."""

    def __init__(self, receiver: Receiver, workdir: Path) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        self.receiver = receiver
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Rotel:
        self.log = open(self.workdir / "rotel.out", "ab")  # noqa: SIM115 - the child's stdout
        self.proc = subprocess.Popen(
            [rotel_binary(), "start",
             "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
             "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
             "--exporter", "otlp",
             "--otlp-exporter-endpoint", f"http://{self.receiver.endpoint}",
             "--otlp-exporter-protocol", "grpc",
             "--batch-timeout", "50ms",
             "--pid-file", str(self.workdir / "rotel.pid"),
             "--log-file", str(self.workdir / "rotel.log")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        ok = wait_until(lambda: _accepts(self.grpc_port) and _accepts(self.http_port), 15)
        assert ok, f"rotel did not start: {self.output()}"
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def output(self) -> str:
        try:
            return (self.workdir / "rotel.out").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class AgentProcess:
    """`adk-agent run` as a user would start it: a subprocess configured by environment."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ("run",),
                 workdir: Path | None = None) -> None:
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("ADK_AGENT_", "OTEL_", "K8S_"))}
        full.setdefault("ADK_AGENT_HEALTH_ADDRESS", "")
        full.update(env)
        self.stderr_path = (workdir or Path(".")) / f"agent-{free_port()}.err"
        self._err = open(self.stderr_path, "wb")  # noqa: SIM115 - the child's stderr
        self.proc = subprocess.Popen([sys.executable, "-m", "agent", *args], env=full,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     start_new_session=True)

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
