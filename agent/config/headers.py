"""Export headers, checked once: a header that HTTP/2 or gRPC cannot carry is a configuration
error at start-up (exit 2), not a failure of every export. Values are secrets: no message
here ever holds one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote

from agent.config.files import read_bytes

# RFC 9110 token characters, lower case: HTTP/2 field names must be lower case (RFC 9113 8.2)
NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
GRPC_NAME = re.compile(r"[0-9a-z_.\-]+")  # gRPC metadata keys (PROTOCOL-HTTP2.md)
# connection-specific fields, which HTTP/2 forbids (RFC 9113 8.2.2) and which mean nothing for
# one export request over HTTP/1.1 either
HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade"}
GRPC_OWN = {"te", "host", "content-type", "content-length", "user-agent"}  # the client's own
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # NUL, CR, LF and the rest (not HTAB)
# visible ASCII (RFC 9110 5.5 asks new fields to keep to it; requests cannot send more, and
# gRPC ASCII metadata is exactly printable ASCII, without HTAB)
ASCII = re.compile(r"[\t\x20-\x7e]*")
GRPC_ASCII = re.compile(r"[\x20-\x7e]*")
MAX_FILE = 1 << 20  # a headers file is a few lines; more is not one
MIN_SECRET = 4  # shorter values are not credentials, and would blot out common words


def checked(headers: Mapping[str, str], grpc: bool, origin: str = "header") -> dict[str, str]:
    """`headers` with lower-case names and values without surrounding blanks, or ValueError
    naming the first bad one (by name, never by value)."""
    out: dict[str, str] = {}
    for raw, value in headers.items():
        name = raw.strip().lower()
        if not NAME.fullmatch(name) or (grpc and not GRPC_NAME.fullmatch(name)):
            raise ValueError(f"{origin} name {raw!r} is not a valid "
                             f"{'gRPC metadata key' if grpc else 'HTTP header name'}")
        if name in HOP_BY_HOP or (grpc and (name in GRPC_OWN or name.startswith("grpc-"))):
            raise ValueError(f"{origin} {name!r} is not allowed (connection-specific, or set "
                             "by the exporter itself)")
        value = value.strip(" \t")
        if CONTROL.search(value):
            raise ValueError(f"the value of {origin} {name!r} holds a control character (NUL, "
                             "CR, LF...), which HTTP forbids")
        if not (GRPC_ASCII if grpc else ASCII).fullmatch(value):
            raise ValueError(f"the value of {origin} {name!r} is not printable ASCII, which "
                             f"{'gRPC metadata' if grpc else 'an HTTP header'} must be")
        out[name] = value
    return out


def read_file(path: str) -> dict[str, str]:
    """`key=value` lines; blank lines and `#` comments skipped. OSError for anything but a
    regular file of at most MAX_FILE bytes (a FIFO swapped in never blocks the reader); bytes
    that are not UTF-8 come through as surrogates, which `checked` refuses by name."""
    out: dict[str, str] = {}
    text = read_bytes(path, MAX_FILE).decode("utf-8", errors="surrogateescape")
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):  # as open() reads
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if sep and key.strip():
                out[key.strip()] = value.strip()
    return out


def redactor(values: Iterable[str]) -> Callable[[str], str]:
    """A function that takes every header value (and, for `<scheme> <credential>`, the
    credential alone) out of a text, for error messages a server or a library wrote: a
    collector that echoes the token it refused must not put it in a log line or /health."""
    secrets: set[str] = set()
    for value in values:
        for form in (value, *value.split()[-1:]):
            if len(form) >= MIN_SECRET:
                secrets.update((form, quote(form, safe="")))
    ordered = sorted(secrets, key=len, reverse=True)  # a value before the credential in it

    def redact(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "<redacted>")
        return text
    return redact
