"""The health endpoint: /healthz (liveness), /readyz (readiness), /health (JSON document)."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from agent.health.document import document

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
        thread = getattr(a.reader, "_daemon_thread", None)
        if thread is not None and not thread.is_alive() and not a.stopping:
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
            body = json.dumps(document(self.agent, alive, ready, why or why_not)).encode()
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
        except Exception as exc:  # a probe must never take the server down
            log.warning("health request %s failed: %s", path, type(exc).__name__)
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    probes: Probes


class HealthServer:
    def __init__(self, agent: Agent, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.server = _Server((host.strip("[]") or "0.0.0.0", int(port)), _Handler)
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
