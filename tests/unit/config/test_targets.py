"""Process targets as written in ADK_AGENT_PROCESSES."""

from __future__ import annotations

import re

import pytest

from agent.config.targets import parse_target, top_counts


@pytest.mark.parametrize("text", ["pid:0", "pid:x", "name:", "proc:1", "cmdline:[", "selff",
                                  "top:cpu:0", "top:disk:3", "top:cpu:x", "top:cpu",
                                  "top:memory:-1", "top:memory:²", "top:"])
def test_bad_targets_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):  # names the target
        parse_target(text)


def test_each_kind() -> None:
    assert parse_target(" self ").kind == "self"
    assert parse_target("pid:42").value == "42"
    assert parse_target("pidfile:/run/app.pid").value == "/run/app.pid"
    t = parse_target("cmdline:app\\.py --serve")
    assert t.pattern is not None and t.pattern.search("python app.py --serve")


def test_top_targets() -> None:
    t = parse_target("top:memory:5")
    assert (t.kind, t.value, t.count) == ("top", "memory", 5)
    with pytest.raises(ValueError, match="top ranks by cpu or memory"):
        parse_target("top:disk:3")
    with pytest.raises(ValueError, match="N in top:cpu:N is a positive whole number"):
        parse_target("top:cpu:0")
    targets = [parse_target(t) for t in ("self", "top:cpu:3", "top:memory:2", "top:cpu:5")]
    assert top_counts(targets) == {"cpu": 5, "memory": 2}  # repeated: the larger N
