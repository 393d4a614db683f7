"""Files that must be regular files are read without ever blocking on what was swapped in."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agent.config.files import read_bytes
from agent.config.headers import read_file


def _in_time(fn: object, *args: object) -> object:
    """fn(*args) in a thread: a call that blocks fails the test instead of hanging it."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn(*args))  # type: ignore[operator]
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert out, f"{fn} blocked"
    return out[0]


@pytest.mark.parametrize(("make", "kind"), [
    (os.mkfifo, "a FIFO"), (os.mkdir, "a directory")])
def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, make: object,
                                                       kind: str) -> None:
    path = tmp_path / "headers"
    make(path)  # type: ignore[operator]
    for fn in (read_file, lambda p: read_bytes(p, 100)):
        err = _in_time(fn, str(path))
        assert isinstance(err, OSError) and err.strerror == f"not a regular file ({kind})"


def test_a_device_and_a_large_file_are_refused(tmp_path: Path) -> None:
    err = _in_time(read_bytes, "/dev/zero", 100)  # would never end if read
    assert isinstance(err, OSError) and "device" in str(err.strerror)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(OSError, match="larger than 100 bytes"):
        read_bytes(big, 100)
    assert read_bytes(big, 101) == b"x" * 101


def test_headers_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "headers"
    path.write_bytes(b"# comment\r\nx-a = 1\r\n\nx-b=caf\xe9\nnot a pair\n")
    assert read_file(str(path)) == {"x-a": "1", "x-b": "caf\udce9"}  # checked() refuses it
