"""Damaged host files thrown at a whole collection (hypothesis), as tests/unit/settings/
test_bad_input.py throws bad configuration at the settings: u64 maxima, truncated lines, text
where numbers belong, non-UTF-8 bytes, garbage, a FIFO. The cycle always completes; a source
that cannot read a file fails alone, with one line naming the file."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.plain import Config
from agent.pipeline import Agent
from tests.paths import HOSTROOT
from tests.unit.rig import config

# Every file of the fixture root the Linux reader parses, and the sources that read it.
FILES = {
    "proc/stat": {"cpu", "processes", "system"},
    "proc/meminfo": {"memory", "paging"},
    "proc/vmstat": {"paging"},
    "proc/loadavg": {"load"},
    "proc/diskstats": {"disk"},
    "proc/cpuinfo": {"cpu"},
    "proc/1/net/dev": {"network"},
    "proc/1/net/tcp": {"network"},
    "proc/1/net/tcp6": {"network"},
    "proc/1/net/udp": {"network"},
    "proc/1/mounts": {"filesystem"},
}
U64_MAX = b"18446744073709551615"
ODD_TOKENS = [b"", b"-1", b"nan", b"inf", b"1e999", b"0x10", b"\xff\xfe", b"9" * 40, U64_MAX,
              b"18446744073709551616", b"\x00", b":", b"(", b")"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dst = tmp_path_factory.mktemp("bad-files") / "root"
    shutil.copytree(HOSTROOT, dst)
    yield dst


@pytest.fixture(scope="module")
def cfg(root: Path) -> Config:
    return config(root, interval="1s")


@st.composite
def damage(draw: st.DrawFn, original: bytes) -> bytes | None:
    """The file's new content, or None for a FIFO in its place."""
    how = draw(st.sampled_from(["u64", "truncate", "insert", "token", "garbage", "fifo"]))
    if how == "fifo":
        return None
    if how == "garbage":
        return draw(st.binary(max_size=300))
    if how == "truncate":  # a line cut anywhere, as a file being rewritten might read
        return original[:draw(st.integers(0, len(original)))]
    if how == "insert":
        at = draw(st.integers(0, len(original)))
        return original[:at] + draw(st.binary(min_size=1, max_size=12)) + original[at:]
    spans = [m.span() for m in re.finditer(rb"\d+" if how == "u64" else rb"\S+", original)]
    if not spans:
        return original
    start, end = draw(st.sampled_from(spans))
    new = U64_MAX if how == "u64" else draw(st.one_of(st.sampled_from(ODD_TOKENS),
                                                      st.binary(max_size=6)))
    return original[:start] + new + original[end:]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_host_file_fails_only_its_sources_naming_it(root: Path, cfg: Config,
                                                                data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(FILES)))
    path = root / name
    original = (HOSTROOT / name).read_bytes()
    content = data.draw(damage(original))
    path.unlink()
    if content is None:
        os.mkfifo(path)
    else:
        path.write_bytes(content)
    try:
        agent = Agent(cfg)
        out = agent.collect()  # returns: never blocks, never raises
        agent.figures()
        assert set(out) == {b.metric.name for b in agent.bound}
        for source, failing in agent.telemetry.failing.items():
            for metric, text in failing.items():
                assert source in FILES[name], (source, metric, text)
                assert "\n" not in text and str(path) in text, (metric, text)
    finally:
        path.unlink()
        shutil.copy(HOSTROOT / name, path)


@pytest.mark.parametrize(("name", "line", "metric", "expected"), [
    ("proc/meminfo", b"MemTotal:       %s kB", "system.memory.limit", int(U64_MAX) * 1024),
    ("proc/vmstat", b"pgmajfault %s", "system.paging.faults", int(U64_MAX)),
    ("proc/1/net/dev", None, "system.network.io", int(U64_MAX)),
    ("proc/diskstats", None, "system.disk.operations", int(U64_MAX)),
])
def test_u64_counters_are_read_faithfully(root: Path, cfg: Config, name: str,
                                          line: bytes | None, metric: str,
                                          expected: int) -> None:
    path = root / name
    original = path.read_bytes()
    if line is not None:
        key = line.split(b"%s")[0].split()[0]
        content = re.sub(rb"(?m)^" + re.escape(key) + rb".*$", line % U64_MAX, original)
    elif name.endswith("dev"):  # ens5's received bytes
        content = original.replace(b"123456789", U64_MAX, 1)
    else:  # sda's reads completed: the first counter of its line
        content = re.sub(rb"(?m)^(\s*\d+\s+\d+\s+sda\s+)\d+", rb"\g<1>" + U64_MAX, original)
    assert content != original
    path.write_bytes(content)
    try:
        agent = Agent(cfg)
        values = [v for v, _ in agent.collect()[metric]]
        assert expected in values, values
        assert not agent.telemetry.failing or not any(agent.telemetry.failing.values())
    finally:
        path.write_bytes(original)
