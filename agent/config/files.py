"""Reading a file without ever blocking on one that is not a regular file: a host file, the
headers file, a queued batch.

A FIFO planted where /proc/meminfo or /etc/hostname should be blocks open() until a writer
comes, and a device such as /dev/zero never ends: either would stall the whole collection (or
start-up) for good. So every host file is opened non-blocking (a FIFO opens at once) and
checked with fstat before a byte is read. /proc and /sys files are regular files to fstat
(size 0 or 4096, their content made on read), so they pass; a FIFO, socket or device is
refused with an OSError naming the file. A read stops at a size no /proc file reaches.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

MAX_BYTES = 64 << 20  # /proc/1/mounts of 100,000 mounts is about 15 MB
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
          | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
_CHUNK = 65536
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _open(path: str) -> int:
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(mode)})", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_readable(path: str) -> None:
    """OSError unless `path` is a regular file this process may open; nothing is read."""
    os.close(_open(path))


def read_bytes(path: str, limit: int = MAX_BYTES) -> bytes:
    """The whole file; OSError when it is missing, unreadable, not a regular file or larger
    than `limit` bytes."""
    fd = _open(path)
    try:
        chunks = []
        size = 0
        while chunk := os.read(fd, _CHUNK):  # /proc files say size 0: read to the end
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", path)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # b"" when empty


def read_text(path: str, limit: int = 1 << 20) -> str:
    """A small text file (/etc/hostname, os-release) as UTF-8; ValueError naming the file when
    it is not UTF-8."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` open for reading (a regular file, checked as read_bytes does)."""
    return os.fdopen(_open(os.fspath(path)), "rb")
