"""agent.grpc_client against a scripted HTTP/2 server (tests/h2_script_server.py) that plays
what proxies and gRPC servers do on the paths that lose or duplicate data: GOAWAY before,
during and after a call, with last_stream_id below and at the call's stream; a reset after a
complete reply; trailers-only replies; non-UTF-8 header bytes; endless DATA; SETTINGS late; a
PING mid-call. Every case checks both what the client reports and what the server took: a
call is taken once, and reported as what it was."""

from __future__ import annotations

import re
import threading

import pytest

from agent.export.goaway import GoawayTap
from agent.export.grpc_client import MAX_REPLY, Channel, Reply, grpc_timeout
from agent.export.transport import EXPORT_PATH
from tests.e2e.test_grpc_client import request
from tests.h2_script_server import Peer, ScriptServer

BIG = 20_000  # points: a request of ~300 KB, over HTTP/2's initial 64 KB window


def call(server: ScriptServer, channel: Channel | None = None, points: int = 3,
         timeout: float = 10.0, metadata: tuple[tuple[str, str], ...] = ()) -> Reply:
    channel = channel or Channel(server.endpoint, None)
    return channel.call(EXPORT_PATH, request(points).SerializeToString(), metadata, timeout)


def taken_points(server: ScriptServer) -> list[int]:
    return [len(r.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points)
            for r in server.taken]


def run(script: object, *calls: int, **kw: object) -> tuple[ScriptServer, list[Reply]]:
    """Serve `script`, make one call per entry of `calls` (its point count) on one channel."""
    with ScriptServer(script, **kw) as server:  # type: ignore[arg-type]
        channel = Channel(server.endpoint, None)
        replies = [call(server, channel, n) for n in calls]
        channel.close()
    assert server.errors == []
    return server, replies


# -- GOAWAY -------------------------------------------------------------------------------

def test_goaway_covering_the_call_while_it_is_answered() -> None:
    """nginx at keepalive_requests: GOAWAY(last = this stream) between request and reply."""
    def script(peer: Peer) -> None:
        req = peer.take(peer.request())
        peer.goaway(req.sid)
        peer.reply(req.sid)

    server, replies = run(script, 3, 4)
    assert [r.status for r in replies] == ["OK", "OK"]
    assert taken_points(server) == [3, 4]  # each once
    assert len(server.peers) == 2  # the second call went on a new connection


def test_goaway_covering_the_call_before_its_body_is_sent() -> None:
    """The GOAWAY arrives while the client still has most of a large body to send: it
    finishes sending (flow control still works) and reads the reply."""
    def script(peer: Peer) -> None:
        req = peer.headers()
        peer.goaway(req.sid)
        peer.reply(peer.take(peer.request(req)).sid)

    server, replies = run(script, BIG)
    assert replies[0].ok and taken_points(server) == [BIG]


def test_graceful_shutdown_two_goaways_and_a_ping() -> None:
    """What grpc servers do at max_connection_age: GOAWAY(2^31-1), PING, then GOAWAY with the
    real last stream once the PING is answered; the call in flight completes."""
    def script(peer: Peer) -> None:
        req = peer.headers()
        peer.goaway(2**31 - 1)
        peer.ping()
        peer.until(lambda: peer.pings_acked == 1)
        peer.goaway(req.sid)
        peer.reply(peer.take(peer.request(req)).sid)

    server, replies = run(script, BIG, 2)
    assert [r.status for r in replies] == ["OK", "OK"]
    assert taken_points(server) == [BIG, 2]


def test_goaway_below_the_call_sends_it_again_on_a_new_connection() -> None:
    """GOAWAY(last < this stream) mid-call: the server will not process it, so the client
    sends it once more on a new connection; it is taken exactly once."""
    def script(peer: Peer) -> None:
        if peer.index == 0:
            req = peer.take(peer.request())
            peer.reply(req.sid)
            second = peer.request()  # read, but not processed:
            peer.goaway(req.sid)  # "the last one I took was the first"
            peer.until(lambda: False)  # the client leaves
            del second
        peer.serve()

    server, replies = run(script, 3, 5)
    assert [r.status for r in replies] == ["OK", "OK"]
    assert taken_points(server) == [3, 5] and len(server.peers) == 2


def test_goaway_before_the_first_call() -> None:
    """A server that says GOAWAY(0) right after its SETTINGS: nothing was taken, the call
    goes again on a new connection at once."""
    def script(peer: Peer) -> None:
        if peer.index == 0:
            peer.goaway(0)
            peer.until(lambda: False)
        peer.serve()

    server, replies = run(script, 7)
    assert replies[0].ok and taken_points(server) == [7] and len(server.peers) == 2


def test_goaway_while_idle_between_calls() -> None:
    idle, sent = threading.Event(), threading.Event()

    def script(peer: Peer) -> None:
        if peer.index == 0:
            peer.reply(peer.take(peer.request()).sid)
            assert idle.wait(5)  # the client has its reply and waits for the next cycle
            peer.goaway(1)
            sent.set()
            peer.until(lambda: False)
        peer.serve()

    with ScriptServer(script) as server:
        channel = Channel(server.endpoint, None)
        assert call(server, channel, 1).ok
        idle.set()
        assert sent.wait(5)
        assert call(server, channel, 2).ok
        channel.close()
    assert server.errors == [] and taken_points(server) == [1, 2] and len(server.peers) == 2


def test_goaway_right_after_the_reply() -> None:
    def script(peer: Peer) -> None:
        req = peer.take(peer.request())
        peer.reply(req.sid)
        peer.goaway(req.sid)
        peer.until(lambda: False)

    server, replies = run(script, 1, 2, 3)
    assert [r.status for r in replies] == ["OK"] * 3
    assert taken_points(server) == [1, 2, 3] and len(server.peers) == 3


def test_a_covered_call_whose_connection_closes_is_a_failure_not_a_resend() -> None:
    """GOAWAY(last = this stream) and then the connection ends without a reply: the server
    may have taken it, so the client does not send it again by itself (the queue decides)."""
    def script(peer: Peer) -> None:
        if peer.index == 0:
            req = peer.take(peer.request())
            peer.goaway(req.sid)
            return  # close, no reply
        peer.serve()

    server, replies = run(script, 3)
    assert replies[0].status == "UNAVAILABLE" and "before the reply" in replies[0].message
    assert taken_points(server) == [3] and len(server.peers) == 1


# -- resets -------------------------------------------------------------------------------

def test_reset_no_error_after_a_complete_reply_is_completion() -> None:
    """RFC 9113 8.1: a server may reset a stream it answered in full (with NO_ERROR, so the
    client stops sending): the reply stands."""
    def script(peer: Peer) -> None:
        req = peer.take(peer.request())
        peer.reply(req.sid)
        peer.reset(req.sid, 0)
        peer.serve()

    server, replies = run(script, 3, 4)
    assert [r.status for r in replies] == ["OK", "OK"] and taken_points(server) == [3, 4]
    assert len(server.peers) == 1  # the connection stays good


def test_early_reply_and_reset_while_the_client_still_sends() -> None:
    """nginx with its upstream down: 502 at once, then RST_STREAM(NO_ERROR), while the client
    is still sending a large request. A failure the queue retries, not a rejection."""
    def script(peer: Peer) -> None:
        req = peer.headers()
        peer.conn.send_headers(req.sid, [(b":status", b"502"),
                                         (b"content-type", b"text/html")], end_stream=True)
        peer.reset(req.sid, 0)
        peer.serve()

    server, replies = run(script, BIG, 2)
    assert replies[0].status == "UNAVAILABLE" and "HTTP 502" in replies[0].message
    assert replies[1].ok and taken_points(server) == [2]


def test_early_grpc_status_and_reset_while_the_client_still_sends() -> None:
    def script(peer: Peer) -> None:
        req = peer.headers()
        peer.trailers_only(req.sid, 3, b"bad%20request")
        peer.reset(req.sid, 0)
        peer.serve()

    _, replies = run(script, BIG)
    assert (replies[0].status, replies[0].message) == ("INVALID_ARGUMENT", "bad request")


@pytest.mark.parametrize(("code", "status"), [(0, "UNAVAILABLE"), (2, "UNAVAILABLE"),
                                              (8, "CANCELLED")])
def test_a_reset_before_the_reply_is_complete_is_retryable(code: int, status: str) -> None:
    def script(peer: Peer) -> None:
        if peer.index == 0:
            req = peer.request()
            peer.conn.send_headers(req.sid, [(b":status", b"200"),
                                             (b"content-type", b"application/grpc")])
            peer.reset(req.sid, code)
        peer.serve()

    _, replies = run(script, 3, 1)
    assert replies[0].status == status and "reset the stream" in replies[0].message
    assert replies[1].ok


def test_refused_stream_is_sent_again_at_once() -> None:
    def script(peer: Peer) -> None:
        if peer.index == 0:
            peer.reset(peer.request().sid, 0x7)
            peer.until(lambda: False)
        peer.serve()

    server, replies = run(script, 4)
    assert replies[0].ok and taken_points(server) == [4]


# -- replies ------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "message", "want"), [
    (0, b"", ("OK", "")),
    (14, b"collector%20overloaded", ("UNAVAILABLE", "collector overloaded")),
    (16, b"", ("UNAUTHENTICATED", "")),
])
def test_trailers_only_replies(status: int, message: bytes, want: tuple[str, str]) -> None:
    def script(peer: Peer) -> None:
        peer.trailers_only(peer.request().sid, status, message)
        peer.serve()

    _, replies = run(script, 1)
    assert (replies[0].status, replies[0].message) == want


def test_non_utf8_header_bytes_do_not_raise() -> None:
    def script(peer: Peer) -> None:
        req = peer.request()
        peer.reply(req.sid, 14, b"bad \xff\xfe byte", extra=((b"x-junk", b"\xc3\x28"),))
        peer.reply(peer.request().sid)

    _, replies = run(script, 1, 1)
    assert replies[0].status == "UNAVAILABLE" and "\ufffd" in replies[0].message
    assert replies[1].ok


def test_endless_data_is_bounded() -> None:
    """A server that streams DATA forever: the call fails once the reply passes MAX_REPLY
    (what the client holds stays bounded), long before its deadline."""
    sent = [0]

    def script(peer: Peer) -> None:
        req = peer.request()
        peer.conn.send_headers(req.sid, [(b":status", b"200"),
                                         (b"content-type", b"application/grpc")])
        chunk = b"\0" * 16384
        while True:
            while peer.conn.local_flow_control_window(req.sid) >= len(chunk):
                peer.conn.send_data(req.sid, chunk)
                sent[0] += len(chunk)
            peer.flush()
            peer.pump()

    _, replies = run(script, 1)  # within 10 s, or it would be DEADLINE_EXCEEDED
    assert replies[0].status == "UNAVAILABLE" and "exceeds" in replies[0].message
    assert MAX_REPLY < sent[0] < MAX_REPLY + 1024 * 1024  # flow control keeps it this close


def test_settings_late() -> None:
    """The server sends its SETTINGS only after it has the request."""
    def script(peer: Peer) -> None:
        req = peer.request()
        peer.start()
        peer.reply(peer.take(req).sid)
        peer.serve()

    server, replies = run(script, 2, 3, preface=False)
    assert [r.status for r in replies] == ["OK", "OK"] and taken_points(server) == [2, 3]


def test_ping_mid_call_is_answered() -> None:
    def script(peer: Peer) -> None:
        req = peer.headers()
        peer.ping()
        peer.until(lambda: peer.pings_acked == 1)
        peer.reply(peer.take(peer.request(req)).sid)

    server, replies = run(script, BIG)
    assert replies[0].ok and server.peers[0].pings_acked == 1


# -- what the client sends ----------------------------------------------------------------

def test_long_timeouts_fit_grpc_timeout_and_authority_has_no_userinfo() -> None:
    seen: list[dict[str, bytes]] = []

    def script(peer: Peer) -> None:
        while True:
            req = peer.request()
            seen.append(req.headers)
            peer.reply(req.sid)

    with ScriptServer(script) as server:
        channel = Channel(f"http://user:secret@127.0.0.1:{server.port}", None)
        for timeout in (0.5, 10, 3600, 30 * 3600, 400 * 24 * 3600):
            assert call(server, channel, 1, timeout=timeout).ok
        channel.close()
    for headers in seen:
        assert re.fullmatch(rb"[1-9][0-9]{0,7}[HMSmun]", headers["grpc-timeout"])
        assert headers[":authority"] == f"127.0.0.1:{server.port}".encode()


@pytest.mark.parametrize(("seconds", "header"), [
    (0.0, "1n"), (0.05, "50000000n"), (10, "10000000u"), (100, "100000m"),
    (30 * 3600, "108000S"), (4000 * 24 * 3600, "5760000M"), (1e12, "99999999H")])
def test_grpc_timeout_units(seconds: float, header: str) -> None:
    assert grpc_timeout(seconds) == header


def test_the_goaway_tap_frame_by_frame_and_byte_by_byte() -> None:
    from hyperframe.frame import DataFrame, GoAwayFrame, PingFrame

    frames = [PingFrame(0, opaque_data=b"12345678").serialize(),
              DataFrame(1, data=b"x" * 100).serialize(),
              GoAwayFrame(0, last_stream_id=5, error_code=0).serialize(),
              DataFrame(1, data=b"y" * 10).serialize(),
              GoAwayFrame(0, last_stream_id=3, error_code=2).serialize()]
    stream = b"".join(frames)
    for size in (1, 7, len(stream)):
        tap = GoawayTap()
        out = b"".join(tap.feed(stream[i:i + size]) for i in range(0, len(stream), size))
        assert out == frames[0] + frames[1] + frames[3]
        assert (tap.last_stream_id, tap.error_code) == (3, 2)
