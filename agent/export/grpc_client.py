"""Unary gRPC calls without grpcio: one HTTP/2 connection, kept open between calls, framed by
h2 and driven by a blocking socket from the one thread that sends.

grpcio's C core costs about 14 MB resident (code pages, its own threads and buffers) in every
process that loads it, which is more than a quarter of the agent. A push agent makes one call
per interval and needs neither its concurrency nor its event engine. grpcio stays available
(ADK_AGENT_GRPC_CLIENT=grpcio).
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
import hpack
import hyperframe.exceptions
from hpack import NeverIndexedHeaderTuple

from agent.export.goaway import GoawayTap

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
# RST_STREAM error codes (RFC 9113) as gRPC statuses, as gRPC maps them (PROTOCOL-HTTP2.md),
# except that the codes it maps to INTERNAL are UNAVAILABLE here: a reset stream says nothing
# about the request, so it stays queued. REFUSED_STREAM is sent again instead.
REFUSED_STREAM = 0x7
RESET_STATUS = {0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}
# An OTLP reply is a few bytes (a partial success at most); beyond grpc's default receive limit
# the server is not answering an export, and the call fails instead of buffering it.
MAX_REPLY = 4 * 1024 * 1024
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
        # RFC 9113 8.3.1: never userinfo in :authority (settings refuse it; this is the guard)
        self.authority = url.netloc.rpartition("@")[2] or f"{self.host}:{self.port}"
        self.tls = tls
        self.compression = compression if compression in WBITS else "none"
        self.user_agent = user_agent
        self._sock: socket.socket | None = None
        self._h2: h2.connection.H2Connection | None = None
        self._tap = GoawayTap()
        self._closed = False

    # -- the call ---------------------------------------------------------------------------

    def call(self, path: str, message: bytes, metadata: Sequence[tuple[str, str]],
             timeout: float) -> Reply:
        """Send one request message and wait for its reply until `timeout` seconds from now.
        Never raises for what the network or the server does: that is in Reply.status."""
        deadline = time.monotonic() + timeout
        try:
            self._usable(deadline)
            try:
                return self._call(path, message, metadata, deadline)
            except _Unprocessed:
                # the server did not take it (a connection closed while idle, a GOAWAY below
                # this stream, a refused stream): once more, on a new connection
                self._drop()
                return self._call(path, message, metadata, deadline)
        except Exception as exc:  # the contract: a status, never an exception
            self._drop()  # its state is unknown now: the next call starts afresh
            return self._failure(exc, timeout)

    def _failure(self, exc: Exception, timeout: float) -> Reply:
        if isinstance(exc, _Failed):
            return Reply(exc.status, str(exc))
        if isinstance(exc, TimeoutError):
            return Reply("DEADLINE_EXCEEDED", f"no reply from {self.authority} within {timeout:g}s")
        if isinstance(exc, h2.exceptions.H2Error | hpack.HPACKError |
                      hyperframe.exceptions.HyperframeError):
            return Reply("UNAVAILABLE", f"HTTP/2 error with {self.authority}: {exc}")
        if isinstance(exc, OSError):  # ssl.SSLError too: it has a reason, not a strerror
            reason = getattr(exc, "reason", None)
            what = f"TLS failed: {reason}" if reason else (exc.strerror or str(exc) or
                                                             type(exc).__name__)
            return Reply("UNAVAILABLE", f"{self.authority}: {what}")
        if isinstance(exc, _Unprocessed):
            return Reply("UNAVAILABLE", str(exc))
        # anything else a hostile reply could provoke is one more failed attempt
        return Reply("UNAVAILABLE", f"{self.authority}: {type(exc).__name__}: {exc}"[:300])

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
                   ("grpc-timeout", grpc_timeout(deadline - time.monotonic())),
                   ("grpc-accept-encoding", "identity,gzip,deflate"),
                   ("user-agent", self.user_agent)]
        if self.compression != "none":
            headers.append(("grpc-encoding", self.compression))
            message = zlib.compress(message, wbits=WBITS[self.compression])
            flag = 1
        # never indexed: credentials stay out of HPACK tables (and of proxies' ones)
        headers.extend(NeverIndexedHeaderTuple(k.lower(), v) for k, v in metadata)
        conn.send_headers(sid, headers)
        reply = _Stream(sid, self._tap)
        data = memoryview(flag.to_bytes(1, "big") + len(message).to_bytes(4, "big") + message)
        while data and not reply.ended:
            size = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                       len(data))
            if size <= 0:  # wait for the server to open its window
                self._flush(deadline)
                self._read(reply, deadline)
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
            self._read(reply, deadline)
        if self._tap.last_stream_id is not None:  # going away: the next call connects anew
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
            # headers as bytes: a server's non-UTF-8 byte must not raise out of h2
            conn = h2.connection.H2Connection(h2.config.H2Configuration(
                client_side=True, header_encoding=None))
            conn.local_settings = h2.settings.Settings(
                client=True, initial_values={h2.settings.SettingCodes.ENABLE_PUSH: 0})
            conn.initiate_connection()
        except BaseException:
            sock.close()
            raise
        self._sock, self._h2, self._tap = sock, conn, GoawayTap()
        self._flush(deadline)

    def _usable(self, deadline: float) -> bool:
        """Whether a connection is open and was not closed by the server while idle (what
        arrived meanwhile, pings and settings, is answered here)."""
        sock, conn = self._sock, self._h2
        if sock is None or conn is None:
            return False
        try:
            # poll, not select: select fails on a descriptor numbered 1,024 or more, which a
            # node's held cgroup files (and the raised limit that allows them) make usual
            readable = select.poll()
            readable.register(sock, select.POLLIN)
            while readable.poll(0):
                data = sock.recv(65536)
                if data:
                    conn.receive_data(self._tap.feed(data))
                if not data or self._tap.last_stream_id is not None:
                    self._drop()
                    return False
            self._flush(deadline)
        except Exception:  # whatever it was, a new connection is the answer
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

    def _read(self, reply: _Stream, deadline: float) -> None:
        try:
            events = self._receive(deadline)
        except _Unprocessed as exc:
            raise reply.closed(str(exc)) from None
        reply.take(events)

    def _receive(self, deadline: float) -> list[h2.events.Event]:
        sock, conn = self._live()
        sock.settimeout(_left(deadline))
        data = sock.recv(65536)
        if not data:
            raise _Unprocessed(f"{self.authority} closed the connection")
        events = conn.receive_data(self._tap.feed(data))
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

    def __init__(self, sid: int, tap: GoawayTap) -> None:
        self.sid = sid
        self.tap = tap
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.data = bytearray()
        self.started = False  # the server sent something on this stream
        self.ended = False

    @property
    def covered(self) -> bool:
        """A GOAWAY came and this stream is at or below its last stream id: the server may
        have taken it, so it is read to its end, never sent again at once."""
        return self.tap.last_stream_id is not None and self.sid <= self.tap.last_stream_id

    def take(self, events: list[h2.events.Event]) -> None:
        for e in events:
            if getattr(e, "stream_id", None) != self.sid:
                continue
            self.started = True
            if isinstance(e, h2.events.ResponseReceived):
                self.headers = _decoded(e.headers)
            elif isinstance(e, h2.events.TrailersReceived):
                self.trailers = _decoded(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                self.data += e.data or b""
                if len(self.data) > MAX_REPLY + 5:
                    raise _Failed("UNAVAILABLE", f"the reply exceeds {MAX_REPLY >> 20} MiB: "
                                  "not an OTLP export reply")
            elif isinstance(e, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(e, h2.events.StreamReset) and not self.ended:
                # RFC 9113 8.1: a reset after a complete response (NO_ERROR, to stop the rest
                # of the request) is completion; one before it is a failed attempt
                if e.error_code == REFUSED_STREAM:
                    raise _Unprocessed("the server refused the stream")
                raise _Failed(RESET_STATUS.get(int(e.error_code or 0), "UNAVAILABLE"),
                              f"the server reset the stream ({_code(e.error_code)})")
        last = self.tap.last_stream_id
        if not self.ended and last is not None and last < self.sid:
            raise _Unprocessed(f"the server went away before it took the call (HTTP/2 GOAWAY "
                               f"{_code(self.tap.error_code)}, last stream {last})")

    def closed(self, reason: str) -> Exception:
        """What the connection's end means for this call."""
        if self.started or self.covered:  # taken, perhaps: the queue decides, later
            return _Failed("UNAVAILABLE", f"{reason} before the reply was complete")
        return _Unprocessed(reason)

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
            try:  # bounded like the reply itself: no decompression bomb
                inflate = zlib.decompressobj(wbits)
                body = inflate.decompress(body, MAX_REPLY)
            except zlib.error:
                return b""
        return body


def grpc_timeout(seconds: float) -> str:
    """The grpc-timeout header: at most eight digits (the gRPC HTTP/2 protocol), so the finest
    unit that holds the value."""
    for unit, per_second in (("n", 1e9), ("u", 1e6), ("m", 1e3), ("S", 1.0), ("M", 1 / 60),
                             ("H", 1 / 3600)):
        value = int(seconds * per_second)
        if value <= 99_999_999:
            return f"{max(1, value)}{unit}"
    return "99999999H"


def _decoded(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header bytes as text, whatever the server put in them (a bad byte becomes U+FFFD)."""
    return {k.decode("latin-1"): v.decode("utf-8", "replace") for k, v in headers}


def _code(code: object) -> str:
    try:
        return h2.errors.ErrorCodes(int(code)).name  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return f"0x{code:x}" if isinstance(code, int) else str(code)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
