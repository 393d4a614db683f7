"""A scripted HTTP/2 (h2c) server for client tests: each accepted connection runs a script
that plays one case on demand (GOAWAY at a chosen moment and stream id, resets, trailers-only
replies, raw header bytes, endless DATA, late SETTINGS, PINGs), built on the `h2` library's
server side.

    def script(peer: Peer) -> None:
        req = peer.request()          # a whole gRPC request
        peer.goaway(req.sid)          # "going away, but this one is taken"
        peer.reply(req.sid)           # gRPC OK with an empty ExportMetricsServiceResponse

    with ScriptServer(script) as server:
        ...  # point a client at server.endpoint; server.taken lists what was processed

GOAWAY is written as raw bytes (hyperframe) behind h2's back, so the h2 state machine stays
open and the script can go on answering the streams the GOAWAY covers, as real servers do.
"""

from __future__ import annotations

import select
import socket
import threading
import zlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import h2.config
import h2.connection
import h2.errors
import h2.events
from hyperframe.frame import GoAwayFrame, RstStreamFrame
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

OK_BODY = ExportMetricsServiceResponse().SerializeToString()


class Eof(Exception):
    """The client closed the connection."""


@dataclass
class Request:
    sid: int
    headers: dict[str, bytes]
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None  # the client's RST_STREAM code

    def message(self) -> ExportMetricsServiceRequest:
        """The gRPC message as an OTLP export request."""
        compressed, size = self.body[0], int.from_bytes(self.body[1:5], "big")
        payload = bytes(self.body[5:5 + size])
        if compressed:
            payload = zlib.decompress(payload, 31 if self.headers.get("grpc-encoding") ==
                                      b"gzip" else 15)
        return ExportMetricsServiceRequest.FromString(payload)


class Peer:
    """One accepted connection, driven by a script from its own thread."""

    def __init__(self, sock: socket.socket, server: ScriptServer, index: int) -> None:
        self.sock = sock
        self.server = server
        self.index = index  # 0 for the first connection the server accepted
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None))
        self.requests: dict[int, Request] = {}
        self.pings_acked = 0
        self._started = False

    # -- driving the connection ----------------------------------------------------------

    def start(self) -> None:
        """Send the server preface (SETTINGS); a script may call it late, after requests."""
        if not self._started:
            self._started = True
            self.conn.initiate_connection()
            self.flush()

    def flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, timeout: float = 10.0) -> None:
        """Read once from the client and apply what came."""
        if not select.select([self.sock], [], [], timeout)[0]:
            raise TimeoutError("the client sent nothing")
        data = self.sock.recv(65536)
        if not data:
            raise Eof
        for e in self.conn.receive_data(data):
            sid = getattr(e, "stream_id", 0)
            if isinstance(e, h2.events.RequestReceived):
                self.requests[sid] = Request(sid, {k.decode(): v for k, v in e.headers})
            elif isinstance(e, h2.events.DataReceived):
                self.requests[sid].body += e.data
                self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamEnded):
                self.requests[sid].ended = True
            elif isinstance(e, h2.events.StreamReset) and sid in self.requests:
                self.requests[sid].reset = int(e.error_code)
            elif isinstance(e, h2.events.PingAckReceived):
                self.pings_acked += 1
        self.flush()

    def until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        while not done():
            self.pump(timeout)

    def headers(self) -> Request:
        """Wait for the next request's HEADERS (its body may still be on the way)."""
        seen = set(self.requests)
        self.until(lambda: bool(set(self.requests) - seen))
        return self.requests[max(set(self.requests) - seen)]

    def request(self, req: Request | None = None) -> Request:
        """Wait until a request (the next one, or `req`) has arrived whole."""
        req = req or self.headers()
        self.until(lambda: req.ended or req.reset is not None)
        return req

    def take(self, req: Request) -> Request:
        """Record `req` as processed (what a real server would have stored)."""
        with self.server.lock:
            self.server.taken.append(req.message())
        return req

    # -- answers ---------------------------------------------------------------------------

    def reply(self, sid: int, status: int = 0, message: bytes = b"", body: bytes = OK_BODY,
              extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        """A complete gRPC reply: headers, the message, trailers."""
        self.conn.send_headers(sid, [(b":status", b"200"),
                                     (b"content-type", b"application/grpc"), *extra])
        self.conn.send_data(sid, b"\0" + len(body).to_bytes(4, "big") + body)
        trailers = [(b"grpc-status", str(status).encode())]
        if message:
            trailers.append((b"grpc-message", message))
        self.conn.send_headers(sid, trailers, end_stream=True)
        self.flush()

    def trailers_only(self, sid: int, status: int, message: bytes = b"") -> None:
        """A "Trailers-Only" reply: one HEADERS frame with the status, nothing else."""
        fields = [(b":status", b"200"), (b"content-type", b"application/grpc"),
                  (b"grpc-status", str(status).encode())]
        if message:
            fields.append((b"grpc-message", message))
        self.conn.send_headers(sid, fields, end_stream=True)
        self.flush()

    def reset(self, sid: int, code: int = 0) -> None:
        """RST_STREAM, also on a stream h2 considers closed (a reset after a full reply)."""
        self.flush()
        self.sock.sendall(RstStreamFrame(sid, error_code=code).serialize())

    def goaway(self, last_stream_id: int, code: int = 0) -> None:
        """A GOAWAY frame written past h2 (which would close its side for good)."""
        self.flush()
        self.sock.sendall(GoAwayFrame(0, last_stream_id=last_stream_id,
                                      error_code=code).serialize())

    def ping(self) -> None:
        self.conn.ping(b"adkping!")
        self.flush()

    def serve(self) -> None:
        """Answer every further request with OK until the client leaves."""
        while True:
            self.reply(self.take(self.request()).sid)


class ScriptServer:
    """h2c on 127.0.0.1: every connection runs `script(peer)` in its own thread (after the
    server preface, unless `preface=False`). What the scripts raise, other than the client
    leaving, is kept in `errors` for the test to assert on."""

    def __init__(self, script: Callable[[Peer], None], preface: bool = True) -> None:
        self.script = script
        self.preface = preface
        self.lock = threading.Lock()
        self.taken: list[ExportMetricsServiceRequest] = []
        self.peers: list[Peer] = []
        self.errors: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        self._listener.close()
        for peer in list(self.peers):
            with suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)
            peer.sock.close()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], 0.05)[0]:
                continue
            sock, _ = self._listener.accept()
            with self.lock:
                peer = Peer(sock, self, len(self.peers))
                self.peers.append(peer)
            t = threading.Thread(target=self._run, args=(peer,), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, peer: Peer) -> None:
        try:
            if self.preface:
                peer.start()
            self.script(peer)
        except (Eof, ConnectionError):
            pass
        except OSError:
            if not self._stop.is_set():
                self.errors.append(f"connection {peer.index}: socket error")
        except Exception as exc:
            self.errors.append(f"connection {peer.index}: {type(exc).__name__}: {exc}")
        finally:
            _linger(peer.sock, self._stop)


def _linger(sock: socket.socket, stop: threading.Event) -> None:
    """End a connection as a server does: FIN, then read until the client closes too (a close
    with unread data would send RST, and the client could lose what was sent before it)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        while not stop.is_set():
            if select.select([sock], [], [], 0.05)[0] and not sock.recv(65536):
                break
    except OSError:
        pass
