"""Process targets as written in ADK_AGENT_PROCESSES."""

from __future__ import annotations

import re

import pytest

from agent.config.targets import parse_target


@pytest.mark.parametrize("text", ["pid:0", "pid:x", "name:", "proc:1", "cmdline:[", "selff"])
def test_bad_targets_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):  # names the target
        parse_target(text)


def test_each_kind() -> None:
    assert parse_target(" self ").kind == "self"
    assert parse_target("pid:42").value == "42"
    assert parse_target("pidfile:/run/app.pid").value == "/run/app.pid"
    t = parse_target("cmdline:app\\.py --serve")
    assert t.pattern is not None and t.pattern.search("python app.py --serve")
