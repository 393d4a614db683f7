"""The health endpoint: /healthz (liveness), /readyz (readiness), /health (JSON document)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from agent.health.document import document, finite

if TYPE_CHECKING:
    from agent.pipeline import Agent

log = logging.getLogger("agent.health")


class Probes:
    """Liveness and readiness from the agent's own clocks."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        s = agent.config
        # A cycle may run an export with retries: allow that, then two more intervals.
        self.stall = 3 * s.interval + s.export_timeout
        self.fresh = max(3 * s.interval + s.export_timeout, 30.0)
        self._cache: tuple[float, bytes] | None = None
        self._lock = threading.Lock()

    def alive(self) -> tuple[bool, str]:
        a = self.agent
        if not a.alive():
            return False, "the collection thread has stopped"
        if a.exporter is not None and not a.exporter.sender_alive() and not a.stopping:
            return False, "the export thread has stopped"
        last = a.last_collect if a.last_collect is not None else a.started
        age = time.monotonic() - last
        if age > self.stall + a.config.interval:
            return False, f"no collection for {age:.0f}s (interval {a.config.interval:g}s)"
        return True, ""

    def ready(self) -> tuple[bool, str]:
        a = self.agent
        if a.exporter is None:  # exporting nothing: ready once collecting
            return (a.last_collect is not None), "" if a.last_collect else "no collection yet"
        st = a.exporter.status
        if st.last_success is None:
            return False, (f"no successful export yet: {st.last_error}" if st.last_error
                           else "no export yet")
        age = time.monotonic() - st.last_success
        if age > self.fresh:
            return False, f"last successful export {age:.0f}s ago: {st.last_error or ''}".strip()
        return True, ""

    def health_json(self) -> bytes:
        """The document, built at most once per collection cycle however many probes ask."""
        key = self.agent.last_collect or 0.0
        with self._lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            alive, why = self.alive()
            ready, why_not = self.ready()
            # a NaN from a bad /proc/loadavg is null here: NaN is no JSON
            body = json.dumps(finite(document(self.agent, alive, ready, why or why_not)),
                              allow_nan=False).encode()
            self._cache = (key, body)
            return body


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 5  # a slow or silent client cannot hold a thread for long
    error_content_type = "application/json"
    error_message_format = '{"error": "%(code)d %(message)s"}'

    def log_message(self, fmt: str, *args: Any) -> None:  # no access log on stderr
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _probe(self, ok: bool, why: str) -> None:
        body = json.dumps({"status": "ok" if ok else "unavailable", "reason": why or None})
        self._send(200 if ok else 503, body.encode())

    def do_GET(self) -> None:
        probes = self.server.probes
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                self._probe(*probes.alive())
            elif path == "/readyz":
                self._probe(*probes.ready())
            elif path == "/health":
                self._send(200, probes.health_json())
            else:
                self._send(404, b'{"error": "not found"}')
        except (ConnectionError, TimeoutError):  # the client left: nothing to answer
            self.close_connection = True
        except Exception as exc:  # a probe must never take the server down
            log.warning("health request failed: %s", type(exc).__name__)
            with contextlib.suppress(OSError):
                self._send(500, b'{"error": "internal error"}')

    do_HEAD = do_GET

    def _not_allowed(self) -> None:
        self.send_response(405)
        body = b'{"error": "method not allowed"}'
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def _slots() -> int:
    """Connections served at once: a few per free descriptor budget, so idle clients cannot
    take the descriptors collection needs (4 under `ulimit -n 16`, 64 at most)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 16
    if soft == resource.RLIM_INFINITY:
        return 64
    return max(2, min(64, (soft - 8) // 2))


class _Server(ThreadingHTTPServer):
    """Serves at most `slots` connections at once; further clients wait in the kernel's
    backlog (they cost no descriptor of ours) instead of being accepted. When accept() fails
    (out of descriptors) the loop pauses instead of spinning on a listening socket that stays
    readable. Errors are log lines, never tracebacks on stderr."""

    daemon_threads = True
    request_queue_size = 64
    probes: Probes

    def __init__(self, address: tuple[Any, ...], family: int) -> None:
        self.address_family = family
        self._free = threading.BoundedSemaphore(_slots())
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        self._free.acquire()
        try:
            return super().get_request()
        except OSError as exc:
            self._free.release()
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                log.warning("health endpoint cannot accept connections: %s; pausing 1s",
                            exc.strerror or exc)
                time.sleep(1.0)  # the listening socket stays readable: do not spin on it
            raise

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            self._free.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # a reset, a timeout: the client's business
            log.debug("health connection from %s: %s", client_address, exc)
        else:
            log.warning("health request failed: %s", type(exc).__name__)


def resolve(address: str) -> tuple[int, tuple[Any, ...]]:
    """(address family, socket address) of `host:port`; `[::1]:port` is IPv6, an empty host
    every IPv4 interface."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        info = socket.getaddrinfo(host, int(port), family, socket.SOCK_STREAM, 0,
                                  socket.AI_PASSIVE)
    except socket.gaierror:
        if family == socket.AF_INET6:
            raise
        # a name with IPv6 addresses only; a name with both keeps IPv4 (127.0.0.1 for
        # localhost, where kubelet's probes go)
        info = socket.getaddrinfo(host, int(port), socket.AF_INET6, socket.SOCK_STREAM, 0,
                                  socket.AI_PASSIVE)
    return info[0][0], info[0][4]


def all_interfaces(address: str) -> bool:
    return address.rpartition(":")[0].strip("[]") in ("", "0.0.0.0", "::")


class HealthServer:
    def __init__(self, agent: Agent, address: str) -> None:
        family, sockaddr = resolve(address)
        self.server = _Server(sockaddr, family)
        self.server.probes = Probes(agent)
        # Block in accept instead of serve_forever's default twice-a-second poll: an idle
        # endpoint then costs no wake-ups at all.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(None,),
                                       name="adk-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Close the listening socket; the serving thread is a daemon and ends with us
        (shutdown() would wait for a poll that no longer comes)."""
        self.server.server_close()
