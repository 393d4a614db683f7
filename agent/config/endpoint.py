"""The collector URL as it may be shown: never userinfo (the settings refuse it; this is the
guard), never a query string or fragment (some collectors take a token there)."""

from __future__ import annotations

import re


def _parts(url: str) -> tuple[str, str, str, str, str]:
    """scheme, userinfo, host[:port], path, query-and-fragment; by plain string rules, so any
    text (a value the settings are about to refuse) can be shown."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    cut = re.search(r"[?#]", rest)
    rest, tail = (rest[:cut.start()], rest[cut.start():]) if cut else (rest, "")
    netloc, slash, path = rest.partition("/")
    userinfo, _, host = netloc.rpartition("@")
    return scheme, userinfo, host, slash + path, tail


def shown(url: str) -> str:
    """scheme://host:port/path of `url`, for logs, `check`, errors and the health document."""
    scheme, _, host, path, _ = _parts(url)
    return f"{scheme}://{host}{path}"


def scrub(text: str, url: str) -> str:
    """`text` (an error message from a library that quoted the URL) without the parts of `url`
    that are never shown."""
    _, userinfo, _, _, tail = _parts(url)
    query, _, fragment = tail.lstrip("?").partition("#") if tail.startswith("?") else (
        "", "", tail[1:])
    for secret in (tail, f"{userinfo}@" if userinfo else ""):  # with their delimiters
        if secret:
            text = text.replace(secret, "")
    for secret in (query, fragment, userinfo):  # quoted on their own
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
