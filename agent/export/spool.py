"""The queue directory (ADK_AGENT_QUEUE_DIR): one file per batch, named and owned by the agent,
held by one agent at a time, read only when its batch is about to be sent.

A batch is `adkq-<20-digit sequence>.otlp`; the parts of a batch split because it was too
large for the collector are `<its name>-0.otlp` and `<its name>-1.otlp`, so the files sort in
sending order whatever was split. A file is written as `<name>.tmp` and renamed, so a reader
never sees half of one; a file that fails its check is renamed `<name>.corrupt`, and only the
newest MAX_CORRUPT of those are kept. Nothing else in the directory is read, renamed or
deleted (names without the prefix, from before it existed, are read too). `adkq.lock` is held
(flock) while an agent uses the directory: a second agent is refused at start-up."""

from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from agent.config.files import open_regular

try:
    import fcntl
except ImportError:  # not on Windows: one agent per directory is then the user's to ensure
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("agent.queue")
SETTING = "ADK_AGENT_QUEUE_DIR"
PREFIX = "adkq-"
# v2: magic, crc32 of the rest (4 bytes, big endian), points (4 bytes), payload
MAGIC = b"ADKQ2"
MAGIC_V1 = b"ADKQ1"  # v1 (read only): magic, crc32 of the payload, payload
HEADER = 13
NAME = re.compile(r"(?:adkq-)?(\d{20})((?:-[01])*)\.(otlp|tmp|corrupt)")
LOCK, PROBE = "adkq.lock", "adkq.probe"
MAX_CORRUPT = 10


@dataclass(frozen=True, slots=True)
class Stored:
    """A batch file found at start-up: its name, payload size and points (None for v1)."""

    stem: str
    size: int
    points: int | None


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._corrupt: list[str] = []  # file names, oldest first
        self._fd: int | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{SETTING} = '{directory}': cannot create it ({_why(exc)})") from None
        self._lock()

    def _refuse(self, why: str) -> ValueError:
        return ValueError(
            f"{SETTING} = '{self.directory}' is not writable ({why}): batches kept there could "
            f"be sent but never removed, so every start would send them again; make it "
            f"writable, or unset {SETTING} to keep the queue in memory")

    def _lock(self) -> None:
        """Hold adkq.lock for as long as this process runs (the kernel lets go at exit, even
        after SIGKILL), and make sure the directory takes new files."""
        path = self.directory / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise self._refuse(_why(exc)) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BlockingIOError:
            holder = os.read(fd, 20).decode("ascii", "replace").strip()
            os.close(fd)
            raise ValueError(
                f"{SETTING} = '{self.directory}' is in use by another running agent"
                f"{f' (pid {holder})' if holder.isdigit() else ''}: each agent needs its own "
                "directory") from None
        except OSError as exc:  # a file system without locks: carry on, unguarded
            log.warning("cannot lock %s: %s; two agents must not share this directory", path,
                        _why(exc))
        self._fd = fd
        probe = self.directory / PROBE
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.close()
            raise self._refuse(_why(exc)) from None

    def close(self) -> None:
        """Let go of the directory (the lock file stays, unlocked)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _path(self, stem: str, suffix: str = ".otlp") -> Path:
        return self.directory / f"{stem}{suffix}"

    def scan(self) -> tuple[list[Stored], int, int]:
        """The batches the last run left, in sending order; the highest sequence number in
        the directory; how many files were unreadable (renamed .corrupt). Writes the last run
        did not finish are removed."""
        found: list[tuple[tuple[int, str], str]] = []
        corrupt: list[tuple[tuple[int, str], str]] = []
        top = 0
        for entry in os.scandir(self.directory):
            m = NAME.fullmatch(entry.name)
            if m is None:
                continue
            stem = entry.name.rsplit(".", 1)[0]
            key = (int(m.group(1)), m.group(2))
            top = max(top, key[0])
            if m.group(3) == "tmp":
                self._unlink(entry.name)
            elif m.group(3) == "corrupt":
                corrupt.append((key, entry.name))
            else:
                found.append((key, stem))
        self._corrupt = [name for _, name in sorted(corrupt)]
        stored: list[Stored] = []
        bad = 0
        for _, stem in sorted(found):
            try:
                stored.append(self._header(stem))
            except (OSError, ValueError) as exc:
                bad += 1
                self.quarantine(stem, str(exc), quiet=True)
        self._bound_corrupt()
        return stored, top, bad

    def _header(self, stem: str) -> Stored:
        with open_regular(self._path(stem)) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(HEADER)
        if head[:5] == MAGIC and len(head) == HEADER:
            return Stored(stem, size - HEADER, int.from_bytes(head[9:13], "big"))
        if head[:5] == MAGIC_V1 and len(head) >= 9:
            return Stored(stem, size - 9, None)
        raise ValueError("not a queued batch (truncated or corrupt)")

    def read(self, stem: str) -> tuple[bytes, int]:
        """The payload of a batch file and its points; ValueError when it fails its check,
        OSError when it cannot be read."""
        with open_regular(self._path(stem)) as f:
            data = f.read()
        head, crc = data[:5], int.from_bytes(data[5:9], "big")
        if head == MAGIC and len(data) >= HEADER and zlib.crc32(data[9:]) == crc:
            return data[HEADER:], int.from_bytes(data[9:13], "big")
        if head == MAGIC_V1 and zlib.crc32(data[9:]) == crc:
            try:  # an older queue's batch, without its point count: parse it
                from agent.export.splitting import count_points, parse

                return data[9:], count_points(parse(data[9:]))
            except Exception:
                raise ValueError("not an OTLP request") from None
        raise ValueError("truncated or corrupt")

    def write(self, stem: str, payload: bytes, points: int) -> bool:
        """Write a batch file; False (with a warning, and no file left) when it failed."""
        rest = points.to_bytes(4, "big") + payload
        tmp = self._path(stem, ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(MAGIC + zlib.crc32(rest).to_bytes(4, "big") + rest)
            os.replace(tmp, self._path(stem))  # readers never see half a file
            return True
        except OSError as exc:
            log.warning("cannot write the export queue to %s: %s; keeping the batch in memory",
                        self.directory, _why(exc))
            self._unlink(tmp.name)  # a full disk leaves no empty .tmp behind
            return False

    def remove(self, stem: str) -> None:
        self._unlink(f"{stem}.otlp")

    def quarantine(self, stem: str, why: str, quiet: bool = False) -> None:
        """Set aside a file that fails its check, as `<name>.corrupt`."""
        name = f"{stem}.corrupt"
        try:
            os.replace(self._path(stem), self._path(stem, ".corrupt"))
        except OSError:
            self.remove(stem)
        else:
            self._corrupt.append(name)
        if not quiet:
            log.warning("skipping unreadable queued batch %s.otlp: %s (kept as .corrupt; the "
                        "newest %d such files are kept)", stem, why, MAX_CORRUPT)
        self._bound_corrupt()

    def _bound_corrupt(self) -> None:
        while len(self._corrupt) > MAX_CORRUPT:
            self._unlink(self._corrupt.pop(0))

    def _unlink(self, name: str) -> None:
        try:
            (self.directory / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.directory / name, _why(exc))
