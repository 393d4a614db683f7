"""Process identity: pid and creation time, the conventions' formats, read once per process."""

from __future__ import annotations

from agent.host.cycle import Cycle
from agent.host.identity import Identities, executable_name, iso8601
from agent.host.linux import LinuxReader
from agent.host.paths import HostFS
from tests.paths import HOSTROOT


def test_the_conventions_formats() -> None:
    assert iso8601(1_700_000_123_450_000_000) == "2023-11-14T22:15:23.450Z"
    assert iso8601(1_700_000_000_000_999_999) == "2023-11-14T22:13:20.000Z"  # truncated
    assert executable_name("/usr/sbin/nginx", "comm") == "nginx"
    assert executable_name("/usr/bin/python3.11 (deleted)", "comm") == "python3.11"
    assert executable_name(None, "kworker/0:1") == "kworker/0:1"


class Counting(LinuxReader):
    names = 0

    def process_name(self, pid: int) -> tuple[str, list[str]]:
        self.names += 1
        return super().process_name(pid)


def test_read_once_per_pid_and_creation_time() -> None:
    reader = Counting(HostFS(str(HOSTROOT)), Cycle())
    ids = Identities(reader)
    created = reader.process_stat(4242).created
    first = ids.of(4242, created)
    assert ids.of(4242, created) is first and reader.names == 1
    again = ids.of(4242, created + 10**9)  # the pid reused by a later process
    assert again is not first and reader.names == 2
    assert (again.executable, again.name, again.command) == (
        "nginx", "nginx", "nginx: master process /usr/sbin/nginx -g daemon off;")
    ids.forget([4242])
    ids.of(4242, created)
    assert reader.names == 3
