"""Process identity: pid and creation time, the conventions' formats, read once per process."""

from __future__ import annotations

import pytest

import agent.host.procfs as procfs
from agent.host.identity import Identities, executable_name, iso8601
from tests.unit.rig import Rig


def test_the_conventions_formats() -> None:
    assert iso8601(1_700_000_123_450_000_000) == "2023-11-14T22:15:23.450Z"
    assert iso8601(1_700_000_000_000_999_999) == "2023-11-14T22:13:20.000Z"  # truncated
    assert executable_name("/usr/sbin/nginx", "comm") == "nginx"
    assert executable_name("/usr/bin/python3.11 (deleted)", "comm") == "python3.11"
    assert executable_name(None, "kworker/0:1") == "kworker/0:1"


def test_read_once_per_pid_and_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    read_pid_name = procfs.read_pid_name

    def counting(proc: str, pid: int) -> tuple[str, list[str]]:
        reads.append(pid)
        return read_pid_name(proc, pid)

    monkeypatch.setattr(procfs, "read_pid_name", counting)
    reader = Rig().context.read  # the fixture host root's proc/4242
    ids = Identities(reader)
    created = reader.process_stat(4242).created
    first = ids.of(4242, created)
    assert ids.of(4242, created) is first and len(reads) == 1
    again = ids.of(4242, created + 10**9)  # the pid reused by a later process
    assert again is not first and len(reads) == 2
    assert (again.executable, again.name, again.command) == (
        "nginx", "nginx", "nginx: master process /usr/sbin/nginx -g daemon off;")
    ids.forget([4242])
    ids.of(4242, created)
    assert len(reads) == 3
