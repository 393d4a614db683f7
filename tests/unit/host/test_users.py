"""User names for process.owner: a host root's /etc/passwd, this system's lookup otherwise."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from agent.host.paths import HostFS
from agent.host.users import Users, parse_passwd
from tests.paths import HOSTROOT


def test_passwd_lines() -> None:
    text = "root:x:0:0::/root:/bin/sh\n\n#nobody:x:9:9::/:/bin/sh\nbad\nx:x:y:0::/:\n" \
           "toor:x:0:0::/root:/bin/sh\nnginx:x:101:101::/:/sbin/nologin\n"
    assert parse_passwd(text) == {0: "root", 101: "nginx"}  # the first of a uid wins


def test_a_host_root_s_names_are_the_host_s(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root, symlinks=True)
    users = Users(HostFS(str(root)))
    assert (users.name(101), users.name(0), users.name(4321)) == ("nginx", "root", "4321")
    passwd = root / "etc" / "passwd"
    passwd.write_text(passwd.read_text() + "app:x:4322:4322::/:/bin/sh\n")
    os.utime(passwd, (1, 1))  # a changed file is read again for a uid not seen yet
    assert users.name(4322) == "app"
    passwd.unlink()
    assert users.name(101) == "nginx" and users.name(5000) == "5000"  # each uid once


def test_without_a_host_root_the_system_answers() -> None:
    users = Users(HostFS("/"))
    assert users.name(os.getuid()) == pwd.getpwuid(os.getuid()).pw_name
