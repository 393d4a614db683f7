"""Host files are read without ever blocking: a FIFO or a device where a file should be is one
error naming it, at once; /proc and /sys files (regular files of size 0 or 4096) read whole."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config.files import check_readable, read_bytes, read_text


def returns_within(seconds: float, call: Callable[[], object]) -> object:
    """The call's result or exception; fails the test (instead of hanging it) when it blocks."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked"
    return out[0]


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "meminfo"
    os.mkfifo(fifo)
    for call in (read_bytes, read_text, check_readable):
        exc = returns_within(5, lambda call=call: call(str(fifo)))
        assert isinstance(exc, OSError) and exc.filename == str(fifo)
        assert exc.strerror == "not a regular file (a FIFO)"


def test_a_device_or_a_directory_is_refused(tmp_path: Path) -> None:
    exc = returns_within(5, lambda: read_bytes("/dev/zero"))  # would never end
    assert isinstance(exc, OSError) and "a device" in str(exc)
    with pytest.raises(OSError, match="a directory"):
        read_bytes(str(tmp_path))


def test_proc_and_sys_files_read_whole() -> None:
    stat = read_bytes("/proc/self/stat")
    assert stat.startswith(f"{os.getpid()} (".encode())
    with open("/proc/self/maps", "rb") as f:  # more than one read's worth on most systems
        assert len(read_bytes("/proc/self/maps")) > 0 and f.read(10)
    if os.path.exists("/sys/devices/system/cpu/online"):
        assert read_bytes("/sys/devices/system/cpu/online").strip()


def test_limits_and_encodings(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 200_000)
    assert len(read_bytes(str(big))) == 200_000
    with pytest.raises(OSError, match="larger than 100000 bytes"):
        read_bytes(str(big), limit=100_000)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_bytes(str(empty)) == b""
    latin = tmp_path / "machine-id"
    latin.write_bytes(b"caf\xe9\n")
    with pytest.raises(ValueError, match=f"{latin}: not UTF-8"):
        read_text(str(latin))
