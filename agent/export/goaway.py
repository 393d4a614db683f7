"""HTTP/2 GOAWAY frames kept from h2, so the streams a GOAWAY covers can still complete."""

from __future__ import annotations

import hyperframe.frame

GOAWAY = 0x7  # the frame type
MAX_GOAWAY = 16384  # our SETTINGS_MAX_FRAME_SIZE (h2's default), for the frame we parse


class GoawayTap:
    """Passes what the server sends on to h2, except GOAWAY frames, which it keeps.

    h2 moves the whole connection to CLOSED when it sees a GOAWAY and then refuses every later
    frame (python-hyper/h2#1181, open), although RFC 9113 6.8 lets the streams up to the
    GOAWAY's last stream id complete: a call the server finished would be reported failed and
    sent again. Keeping GOAWAY from h2 leaves its state machine open, so it goes on framing,
    acknowledging and flow-controlling the streams the server still serves, with no private
    h2 state touched; the channel applies the GOAWAY itself: no new stream on the connection,
    a stream above last_stream_id sent again on a new one, one at or below it read to its end.
    Frames are only delimited here (9-byte header, 24-bit length); hyperframe parses the
    GOAWAY. The lowest last stream id seen wins (a graceful shutdown sends 2^31-1 first)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._through = 0  # bytes of the current (not GOAWAY) frame still to pass on
        self.last_stream_id: int | None = None
        self.error_code = 0

    def feed(self, data: bytes) -> bytes:
        buf, out = self._buf, bytearray()
        buf += data
        while buf:
            if self._through:
                n = min(self._through, len(buf))
                out += buf[:n]
                del buf[:n]
                self._through -= n
                continue
            if len(buf) < 9:
                break
            length = int.from_bytes(buf[:3], "big")
            if buf[3] != GOAWAY or length > MAX_GOAWAY:  # an overlong one: h2 refuses it
                self._through = 9 + length
                continue
            if len(buf) < 9 + length:
                break
            frame, _ = hyperframe.frame.Frame.parse_frame_header(memoryview(bytes(buf[:9])))
            frame.parse_body(memoryview(bytes(buf[9:9 + length])))
            del buf[:9 + length]
            assert isinstance(frame, hyperframe.frame.GoAwayFrame)
            if self.last_stream_id is None or frame.last_stream_id < self.last_stream_id:
                self.last_stream_id = frame.last_stream_id
            self.error_code = frame.error_code
        return bytes(out)
