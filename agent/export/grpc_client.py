"""Unary gRPC calls without grpcio: one HTTP/2 connection, kept open between calls, framed by
h2 and driven by a blocking socket from the one thread that sends.

grpcio's C core costs about 14 MB resident (code pages, its own threads and buffers) in every
process that loads it, which is more than a quarter of the agent. A push agent makes one call
per interval and needs neither its concurrency nor its event engine. The grpcio-based SDK
exporter stays available (ADK_AGENT_GRPC_CLIENT=grpcio).
"""

from __future__ import annotations

import logging
import select
import socket
import time
import zlib
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hpack import NeverIndexedHeaderTuple

if TYPE_CHECKING:  # ssl itself (and libcrypto) is loaded only by whoever builds a TLS context
    import ssl

# grpc status codes by number, as in grpc/include/grpc/status.h
STATUS = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
          "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
          "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
          "UNAUTHENTICATED")
# gRPC's mapping for a reply that is not gRPC at all (doc/http-grpc-status-mapping.md)
HTTP_STATUS = {400: "INTERNAL", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
               404: "UNIMPLEMENTED", 429: "UNAVAILABLE", 502: "UNAVAILABLE",
               503: "UNAVAILABLE", 504: "UNAVAILABLE"}
# RST_STREAM error codes (RFC 9113) as gRPC statuses; REFUSED_STREAM is sent again instead
REFUSED_STREAM = 0x7
RESET_STATUS = {0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}
# hpack logs every header it encodes, values included, at debug level: header values are
# credentials here, so never let them through, whatever the agent's own log level.
for _name in ("hpack", "h2"):
    logging.getLogger(_name).setLevel(logging.WARNING)
WBITS = {"gzip": 31, "deflate": 15}  # zlib's framing for each grpc-encoding


@dataclass(frozen=True, slots=True)
class Reply:
    status: str  # a name from STATUS
    message: str
    body: bytes = b""  # the response message, decompressed

    @property
    def ok(self) -> bool:
        return self.status == "OK"


class _Unprocessed(Exception):
    """The connection ended before the server took the call: safe to send it again."""


class _Failed(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class Channel:
    """Calls to one gRPC server. Not thread-safe, except close(), which may come from another
    thread to abort a call in progress."""

    def __init__(self, endpoint: str, tls: ssl.SSLContext | None,
                 compression: str = "none", user_agent: str = "adk-agent") -> None:
        url = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if tls else 80)
        self.authority = url.netloc or f"{self.host}:{self.port}"
        self.tls = tls
        self.compression = compression if compression in WBITS else "none"
        self.user_agent = user_agent
        self._sock: socket.socket | None = None
        self._h2: h2.connection.H2Connection | None = None
        self._closed = False

    # -- the call ---------------------------------------------------------------------------

    def call(self, path: str, message: bytes, metadata: Sequence[tuple[str, str]],
             timeout: float) -> Reply:
        """Send one request message and wait for its reply until `timeout` seconds from now.
        Never raises for what the network or the server does: that is in Reply.status."""
        deadline = time.monotonic() + timeout
        try:
            reused = self._usable(deadline)
            try:
                return self._call(path, message, metadata, deadline)
            except _Unprocessed:
                if not reused:
                    raise
                # a connection the server had closed while idle: once more on a new one
                self._drop()
                return self._call(path, message, metadata, deadline)
        except (_Unprocessed, _Failed, OSError, h2.exceptions.H2Error) as exc:
            self._drop()  # its state is unknown now: the next call starts afresh
            return self._failure(exc, timeout)

    def _failure(self, exc: Exception, timeout: float) -> Reply:
        if isinstance(exc, _Failed):
            return Reply(exc.status, str(exc))
        if isinstance(exc, TimeoutError):
            return Reply("DEADLINE_EXCEEDED", f"no reply from {self.authority} within {timeout:g}s")
        if isinstance(exc, h2.exceptions.H2Error):
            return Reply("UNAVAILABLE", f"HTTP/2 error with {self.authority}: {exc}")
        if isinstance(exc, OSError):  # ssl.SSLError too: it has a reason, not a strerror
            reason = getattr(exc, "reason", None)
            what = f"TLS failed: {reason}" if reason else (exc.strerror or str(exc) or
                                                             type(exc).__name__)
            return Reply("UNAVAILABLE", f"{self.authority}: {what}")
        return Reply("UNAVAILABLE", str(exc))  # _Unprocessed

    def _call(self, path: str, message: bytes, metadata: Sequence[tuple[str, str]],
              deadline: float) -> Reply:
        if self._closed:
            raise ConnectionAbortedError("the channel was closed")
        if self._h2 is None:
            self._connect(deadline)
        _, conn = self._live()
        sid = conn.get_next_available_stream_id()
        flag = 0
        headers = [(":method", "POST"), (":scheme", "https" if self.tls else "http"),
                   (":path", path), (":authority", self.authority),
                   ("content-type", "application/grpc"), ("te", "trailers"),
                   ("grpc-timeout", f"{max(1, int((deadline - time.monotonic()) * 1000))}m"),
                   ("grpc-accept-encoding", "identity,gzip,deflate"),
                   ("user-agent", self.user_agent)]
        if self.compression != "none":
            headers.append(("grpc-encoding", self.compression))
            message = zlib.compress(message, wbits=WBITS[self.compression])
            flag = 1
        # never indexed: credentials stay out of HPACK tables (and of proxies' ones)
        headers.extend(NeverIndexedHeaderTuple(k.lower(), v) for k, v in metadata)
        conn.send_headers(sid, headers)
        reply = _Stream(sid)
        data = memoryview(flag.to_bytes(1, "big") + len(message).to_bytes(4, "big") + message)
        while data and not reply.ended:
            size = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                       len(data))
            if size <= 0:  # wait for the server to open its window
                self._flush(deadline)
                reply.take(self._receive(deadline))
                continue
            conn.send_data(sid, data[:size].tobytes())
            data = data[size:]
        if data:  # answered before it took the whole request: nothing more to send
            with suppress(h2.exceptions.H2Error):  # the stream may be closed already
                conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        else:
            conn.end_stream(sid)
        self._flush(deadline)
        while not reply.ended:
            reply.take(self._receive(deadline))
        if reply.goaway:  # the server is going away: the next call opens a new connection
            self._drop()
        return reply.result()

    # -- the connection ---------------------------------------------------------------------

    def _connect(self, deadline: float) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=_left(deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
                if sock.selected_alpn_protocol() != "h2":
                    raise _Failed("UNAVAILABLE", f"{self.authority} does not speak HTTP/2 "
                                  "over TLS (no h2 in ALPN)")
            conn = h2.connection.H2Connection(h2.config.H2Configuration(
                client_side=True, header_encoding="utf-8"))
            conn.local_settings = h2.settings.Settings(
                client=True, initial_values={h2.settings.SettingCodes.ENABLE_PUSH: 0})
            conn.initiate_connection()
        except BaseException:
            sock.close()
            raise
        self._sock, self._h2 = sock, conn
        self._flush(deadline)

    def _usable(self, deadline: float) -> bool:
        """Whether a connection is open and was not closed by the server while idle (what
        arrived meanwhile, pings and settings, is answered here)."""
        sock, conn = self._sock, self._h2
        if sock is None or conn is None:
            return False
        try:
            while select.select([sock], [], [], 0)[0]:
                data = sock.recv(65536)
                events = conn.receive_data(data) if data else None
                if not data or any(isinstance(e, h2.events.ConnectionTerminated)
                                   for e in events or ()):
                    self._drop()
                    return False
            self._flush(deadline)
        except (OSError, h2.exceptions.H2Error):
            self._drop()
            return False
        return True

    def _live(self) -> tuple[socket.socket, h2.connection.H2Connection]:
        sock, conn = self._sock, self._h2
        if sock is None or conn is None:  # close() from another thread (shutdown)
            raise ConnectionAbortedError("the connection was closed")
        return sock, conn

    def _flush(self, deadline: float) -> None:
        sock, conn = self._live()
        out = conn.data_to_send()
        if out:
            sock.settimeout(_left(deadline))
            sock.sendall(out)

    def _receive(self, deadline: float) -> list[h2.events.Event]:
        sock, conn = self._live()
        sock.settimeout(_left(deadline))
        data = sock.recv(65536)
        if not data:
            raise _Unprocessed(f"{self.authority} closed the connection")
        events = conn.receive_data(data)
        for e in events:  # let the server send more
            if isinstance(e, h2.events.DataReceived) and e.flow_controlled_length:
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        self._flush(deadline)  # also the acks of its pings and settings
        return events

    def close(self) -> None:
        """End the channel: a call in progress (on another thread) returns UNAVAILABLE, and
        no later call connects again."""
        self._closed = True
        self._drop()

    def _drop(self) -> None:
        sock, self._sock, self._h2 = self._sock, None, None
        if sock is not None:
            with suppress(OSError):  # wakes a call blocked in recv on another thread
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _Stream:
    """What came back on one stream."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.data = bytearray()
        self.ended = False
        self.goaway = False

    def take(self, events: list[h2.events.Event]) -> None:
        for e in events:
            if isinstance(e, h2.events.ConnectionTerminated):
                self.goaway = True
                if e.last_stream_id is None or e.last_stream_id < self.sid:
                    raise _Unprocessed(f"the server went away (HTTP/2 GOAWAY {e.error_code!s})")
                continue
            if getattr(e, "stream_id", self.sid) != self.sid:
                continue
            if isinstance(e, h2.events.ResponseReceived):
                self.headers = dict(e.headers)  # type: ignore[arg-type]
            elif isinstance(e, h2.events.TrailersReceived):
                self.trailers = dict(e.headers)  # type: ignore[arg-type]
            elif isinstance(e, h2.events.DataReceived):
                self.data += e.data or b""
            elif isinstance(e, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(e, h2.events.StreamReset):
                if e.error_code == REFUSED_STREAM:
                    raise _Unprocessed("the server refused the stream")
                raise _Failed(RESET_STATUS.get(int(e.error_code or 0), "INTERNAL"),
                              f"the server reset the stream ({e.error_code!s})")

    def result(self) -> Reply:
        http = self.headers.get(":status", "")
        if http != "200":
            return Reply(HTTP_STATUS.get(int(http) if http.isdigit() else 0, "UNKNOWN"),
                         f"HTTP {http or '?'} instead of a gRPC reply")
        fields = self.trailers or self.headers  # a "Trailers-Only" reply has only headers
        code = fields.get("grpc-status", "")
        status = STATUS[int(code)] if code.isdigit() and int(code) < len(STATUS) else "UNKNOWN"
        message = unquote(fields.get("grpc-message", "")) or (
            "" if code else "a reply without grpc-status")
        return Reply(status, message, self._message())

    def _message(self) -> bytes:
        if len(self.data) < 5:
            return b""
        compressed, size = self.data[0], int.from_bytes(self.data[1:5], "big")
        body = bytes(self.data[5:5 + size])
        wbits = WBITS.get(self.headers.get("grpc-encoding", ""))
        if compressed and wbits:
            try:
                body = zlib.decompress(body, wbits)
            except zlib.error:
                return b""
        return body


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
