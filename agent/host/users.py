"""User names by uid, for process.owner: each uid resolved once.

Reading a host root, the names are the host's, from `<root>/etc/passwd`: the agent's own lookup
(NSS) knows the users of its container image, not the node's. Otherwise the system's lookup
answers (the pwd module: NSS, so LDAP or sssd users too). A uid with no name is its number, as
ps shows it.
"""

from __future__ import annotations

import os

from agent.config.files import read_bytes
from agent.host.paths import HostFS


def parse_passwd(text: str) -> dict[int, str]:
    """uid -> name of passwd(5) lines; blank, comment and malformed lines are skipped."""
    names: dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] and not fields[0].startswith("#") \
                and fields[2].isascii() and fields[2].isdigit():
            names.setdefault(int(fields[2]), fields[0])  # the first entry wins, as getpwuid
    return names


class Users:
    def __init__(self, host: HostFS) -> None:
        self._passwd = host.path("etc/passwd") if host.contained else None
        self._names: dict[int, str] = {}
        self._file: dict[int, str] = {}
        self._mtime: float | None = None

    def name(self, uid: int) -> str:
        name = self._names.get(uid)
        if name is None:
            name = self._names[uid] = self._lookup(uid) or str(uid)
        return name

    def _lookup(self, uid: int) -> str | None:
        if self._passwd is None:
            import pwd

            try:
                return pwd.getpwuid(uid).pw_name
            except KeyError:
                return None
        try:  # read again only when the file changed since (a user added since start-up)
            mtime = os.stat(self._passwd).st_mtime
            if mtime != self._mtime:
                text = read_bytes(self._passwd).decode("utf-8", "replace")
                self._file = parse_passwd(text)
                self._mtime = mtime
        except OSError:  # gone, unreadable, or not a regular file
            return None
        return self._file.get(uid)
