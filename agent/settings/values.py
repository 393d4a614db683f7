"""Value types of the settings and their parsing: durations, comma lists, `k=v` pairs, files
that must exist; the defaults of the filters; ConfigError, the one-line error."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import AfterValidator, BeforeValidator, SecretStr
from pydantic_settings import NoDecode

from agent.config.durations import parse_duration
from agent.config.files import check_readable

PREFIX = "ADK_AGENT_"


class ConfigError(Exception):
    """A bad setting; the message is one line naming the setting and the value."""

    def __init__(self, message: str) -> None:
        # one line, whatever the value or path held
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


def _split(value: object) -> object:
    """Lists from the environment are comma-separated (a JSON list works too)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def parse_pairs(value: object) -> object:
    """`k1=v1,k2=v2` as in OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS (values
    percent-decoded); a mapping passes through."""
    if not isinstance(value, str):
        return value
    out: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            # The text itself is not echoed: for headers it may be part of a credential.
            raise ValueError("expected key=value pairs separated by commas")
        out[unquote(key.strip())] = unquote(val.strip())
    return out


def _existing_file(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:  # opened without blocking: a FIFO here would hang `check` and the start
        check_readable(str(path))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    return path


# The shortest interval: a cycle costs about 5 ms of CPU (Performance in README.md), so 100 ms
# keeps the agent near 5% of one core; /proc/stat's CPU times move in 10 ms ticks, so shorter
# cycles mostly measure the tick. A 1 ms interval would keep a core busy collecting.
MIN_INTERVAL = 0.1


def _interval(seconds: float) -> float:
    if seconds < MIN_INTERVAL:
        raise ValueError(f"the shortest interval is {MIN_INTERVAL * 1000:g}ms")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Interval = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_interval)]
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split)]
Pairs = Annotated[dict[str, str], NoDecode, BeforeValidator(parse_pairs)]
SecretPairs = Annotated[dict[str, SecretStr], NoDecode, BeforeValidator(parse_pairs)]
FilePath = Annotated[Path | None, AfterValidator(_existing_file)]

# node_exporter's defaults, as globs: pseudo and container-internal filesystems, virtual disks.
DEFAULT_FS_TYPES_EXCLUDE = [
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs",
    "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "erofs", "sysfs", "tracefs",
    "tmpfs", "ramfs", "fuse.lxcfs", "nfsd", "efivarfs",
]
DEFAULT_MOUNTPOINTS_EXCLUDE = [
    "/dev", "/dev/*", "/proc", "/proc/*", "/sys", "/sys/*", "/run/credentials/*",
    "/var/lib/docker/*", "/var/lib/containers/storage/*", "/var/lib/kubelet/pods/*",
    "/run/containerd/*", "/run/k3s/*", "/snap/*",
]
DEFAULT_DISKS_EXCLUDE = ["loop*", "ram*", "zram*", "fd*", "sr*"]


def closest(name: str, choices: Any) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return close[0] if close else None


def require_known(names: Any, choices: Any, what: str) -> None:
    for name in names:
        if name not in choices:
            raise ValueError(f"unknown {what} {name!r}{hint(name, choices)}")


def hint(name: str, choices: Any) -> str:
    close = closest(name, choices)
    return f" (did you mean {close!r}?)" if close else ""


