"""Export: every cycle's batch goes into the outbox and a sender thread delivers it, oldest
first, so a slow or dead collector never delays collection and no cycle is lost to an outage.
The outage is reported once when it starts and once when it ends."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.config.endpoint import scrub, shown
from agent.config.headers import redactor
from agent.config.plain import Config
from agent.export.outbox import Outbox
from agent.export.transport import Outcome, Sender, build_sender, headers_for

log = logging.getLogger("agent.export")

@dataclass
class ExportStatus:
    exports: int = 0  # attempts
    failures: int = 0
    rejected: int = 0  # batches the collector refused for good
    points: int = 0  # delivered
    failed_points: int = 0  # in failed attempts whose points stay queued
    rejected_points: int = 0  # dropped for good: refused, or too large even alone
    last_time: float | None = None  # wall clock of the last attempt
    last_ok: bool | None = None
    last_error: str | None = None
    last_success: float | None = None  # monotonic
    last_duration: float = 0.0


class QueuedExporter:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.target = shown(config.endpoint)  # never its userinfo or query string
        self.status = ExportStatus()
        self._headers_mtime = self._mtime()
        self.outbox = Outbox(config.queue_max_batches,
                             Path(config.queue_dir) if config.queue_dir else None,
                             config.queue_max_bytes)
        try:
            headers = headers_for(config)
            self.sender: Sender = build_sender(config, headers)
        except BaseException:
            self.outbox.close()  # the queue directory is free for the next try
            raise
        self._headers = headers
        self._redact = redactor(headers.values())
        self._max_backoff = min(30.0, max(2.0, 5 * config.interval))
        self._changed = threading.Condition()  # the outbox gained or lost a batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="adk-sender", daemon=True)
        self._thread.start()

    # self-telemetry
    def sent_points(self) -> int:
        return self.status.points

    def failed_points(self) -> int:
        return self.status.failed_points

    def rejected_points(self) -> int:
        return self.status.rejected_points

    def dropped_points(self) -> int:
        return self.outbox.dropped_points

    def queue_size(self) -> int:
        return len(self.outbox)

    def queue_capacity(self) -> int:
        return self.outbox.max_batches

    def send_duration(self) -> float:
        return self.status.last_duration

    def sender_alive(self) -> bool:
        """False once the sender thread has ended (after shutdown, or never else)."""
        return self._thread.is_alive()

    # the collector's side: never blocks on the network
    def export(self, payload: bytes, points: int) -> None:
        """Queue one cycle's request, serialised (bytes: a quarter of the memory of the
        parsed message)."""
        if not points:  # all held back (first delta points): nothing to send
            return
        with self._changed:
            self.outbox.put(payload, points)
            self._changed.notify_all()

    # the sender's side
    def _run(self) -> None:
        """Whatever goes wrong in one round (a bug, a library's surprise), the thread goes on:
        a sender that ended would leave the agent looking alive with nothing leaving it."""
        delay = 0.0
        while not self._stop.is_set():
            try:
                delay = self._round(delay)
            except Exception as exc:
                log.error("export sender: %s", self._shown(f"{type(exc).__name__}: {exc}"))
                delay = min(max(delay * 2, 0.5), self._max_backoff)
                self._stop.wait(delay)

    def _round(self, delay: float) -> float:
        """Send the head batch once; the delay before the next round."""
        with self._changed:
            self._changed.wait_for(lambda: self._stop.is_set() or len(self.outbox) > 0)
        if self._stop.is_set() or (delay and self._stop.wait(delay)):
            return delay
        item = self.outbox.head()
        if item is None:  # its file was unreadable, and it was the last
            return 0.0
        seq, payload, points = item
        self._reload_headers()
        started = time.monotonic()
        try:
            outcome = self.sender.send(payload, points)
        except Exception as exc:  # an exporter bug must not end the sender
            outcome = Outcome(False, True, f"{type(exc).__name__}: {exc}")
        error = self._shown(outcome.error) if outcome.error else None
        duration = time.monotonic() - started
        if outcome.too_large:
            self._too_large(seq, payload, points, error)
            return 0.0
        self._record(outcome.ok, points if outcome.ok or outcome.retryable else 0, error,
                     duration)
        if outcome.partial:  # the rest is not retried, as the OTLP specification asks
            log.warning("the collector rejected %s", self._shown(outcome.partial))
        if outcome.ok:
            self._pop(seq)
            return 0.0
        if not outcome.retryable:
            self._drop(seq, points)
            log.error("the collector rejected a batch of %d points (%s): dropped, not retried",
                      points, error)
            return 0.0
        return min(max(delay * 2, 0.5), self._max_backoff)

    def _shown(self, text: str) -> str:
        """An error text as it may be logged or shown in /health: without the endpoint's
        hidden parts or any header value (a collector may echo the token it refused)."""
        return self._redact(scrub(text, self.config.endpoint))

    def _too_large(self, seq: int, payload: bytes, points: int, error: str | None) -> None:
        """Split a batch the collector finds too large and send its halves in its place, down
        to single points; drop only a point that does not fit alone. Not an outage: the
        collector answers, so neither the outage warning nor last_export changes."""
        st = self.status
        st.exports += 1
        st.failures += 1
        from agent.export.splitting import count_points, describe, halves, parse

        request = parse(payload)
        parts = halves(request)
        if parts is None:
            self._drop(seq, points)
            log.error("the collector refuses even a single point of %s as too large (%s): "
                      "dropped", describe(request), error)
            return
        st.failed_points += points
        log.warning("a batch of %d points is larger than the collector takes (%s): sending it "
                    "in parts", points, error)
        with self._changed:
            self.outbox.split(seq, [(part.SerializeToString(), count_points(part))
                                    for part in parts])
            self._changed.notify_all()

    def _drop(self, seq: int, points: int) -> None:
        self._pop(seq)
        self.status.rejected += 1
        self.status.rejected_points += points

    def _pop(self, seq: int) -> None:
        with self._changed:
            self.outbox.pop(seq)
            self._changed.notify_all()

    def _drained(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.outbox) == 0, max(timeout, 0.0))

    def _record(self, ok: bool, points: int, error: str | None, duration: float) -> None:
        st = self.status
        was_down = st.last_ok is False
        st.exports += 1
        st.last_time = time.time()
        st.last_duration = duration
        st.last_ok = ok
        if ok:
            st.points += points
            st.last_success = time.monotonic()
            st.last_error = None
            if was_down:
                log.info("export to %s recovered; %d queued batches to send", self.target,
                         len(self.outbox) - 1)
        else:
            st.failures += 1
            st.failed_points += points
            st.last_error = error or "export failed"
            if not was_down:
                log.warning("export to %s failed: %s (batches are queued and sent when it "
                            "recovers)", self.target, st.last_error)

    def _mtime(self) -> float | None:
        path = self.config.headers_file
        try:
            return os.stat(path).st_mtime if path is not None else None
        except OSError:
            return None

    def _reload_headers(self) -> None:
        """A mounted Secret is replaced in place: pick up new header values before a send.
        A file that cannot be read or holds a bad header (however: not UTF-8, a FIFO or a
        directory swapped in, no permission, deleted) keeps the previous headers, with one
        line naming the file; the next change of the file is tried again."""
        mtime = self._mtime()
        if mtime == self._headers_mtime:
            return
        self._headers_mtime = mtime
        path = self.config.headers_file
        try:
            headers = headers_for(self.config)
            sender = build_sender(self.config, headers)
        except ValueError as exc:  # a header HTTP cannot carry (named, its value never shown)
            log.warning("%s: keeping the previous headers", exc)
            return
        except Exception as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
                type(exc).__name__)
            log.warning("cannot re-read ADK_AGENT_HEADERS_FILE %s (%s): keeping the previous "
                        "headers", path, why)
            return
        old, self.sender = self.sender, sender
        # the previous values too: a reply to a call in flight may still echo one
        self._redact = redactor([*headers.values(), *self._headers.values()])
        self._headers = headers
        with contextlib.suppress(Exception):  # the old connection is gone either way
            old.shutdown()
        log.info("headers file changed: export headers reloaded")

    def shutdown(self, timeout: float = 10.0) -> None:
        """Deliver what is queued within `timeout` seconds, then stop; with a queue directory,
        what could not be delivered stays on disk for the next start."""
        self._drained(timeout)
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self.sender.shutdown()  # aborts a retry wait still in progress
        self._thread.join(2.0)
        left, lost = len(self.outbox), self.outbox.in_memory_only()
        self.outbox.close()
        if left:
            where = (f"kept in {self.config.queue_dir} for the next start"
                     if self.config.queue_dir
                     else "lost (set ADK_AGENT_QUEUE_DIR to keep them)")
            if self.config.queue_dir and lost:
                where += f", except {lost} that could not be written there (lost)"
            log.warning("%d batches not delivered before shutdown: %s", left, where)
        else:
            log.info("stopped: every batch sent, %d points delivered to %s since start",
                     self.status.points, self.target)


class ConsoleExporter:
    """Exporter `console`: each cycle's request on stdout as OTLP/JSON, one object per line."""

    def export(self, payload: bytes, points: int) -> None:
        from google.protobuf.json_format import MessageToJson

        from agent.export.splitting import parse

        if points:
            print(MessageToJson(parse(payload), indent=None), flush=True)

    def shutdown(self, timeout: float = 10.0) -> None:
        pass


def build_exporter(config: Config) -> QueuedExporter | ConsoleExporter | None:
    """None for exporter `none`: cycles still run (for the health endpoint), nothing goes."""
    if config.exporter == "none":
        return None
    if config.exporter == "console":
        return ConsoleExporter()
    return QueuedExporter(config)
