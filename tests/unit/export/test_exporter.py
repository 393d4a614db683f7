"""The exporter's headers reload under arbitrary file contents (hypothesis): it never raises
out of the sender's round, takes a file whose headers are all good, keeps the previous headers
otherwise, and never logs a value."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.export.exporter import QueuedExporter
from agent.export.transport import headers_for
from agent.settings import load_config

MARK = "v4lue"  # in every generated value, so a leak is easy to spot
NAMES = st.one_of(st.sampled_from(["x-api-key", "authorization", "X-Tenant", "te", "bad name",
                                   "grpc-x", "connection", ""]),
                  st.text(max_size=8))
VALUES = st.one_of(st.text(max_size=12), st.binary(max_size=12).map(
    lambda b: b.decode("latin-1"))).map(lambda v: f"{MARK}{v}")
LINES = st.one_of(
    st.tuples(NAMES, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}".encode("utf-8", "replace")),
    st.binary(max_size=20))


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueuedExporter]:
    path = tmp_path_factory.mktemp("h") / "headers"
    path.write_text("x-api-key=first\n")
    exporter = QueuedExporter(load_config(endpoint="http://127.0.0.1:9",
                                          headers_file=str(path)))
    yield exporter
    exporter.shutdown(timeout=0.1)


@settings(deadline=None, max_examples=200,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=4))
def test_any_headers_file_is_taken_or_kept(exp: QueuedExporter, lines: list[bytes],
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = Path(str(exp.config.headers_file))
    path.write_bytes(b"\n".join(lines))
    exp._headers_mtime = None  # whatever the clock's resolution: this is a change
    before = exp.sender
    try:
        good = headers_for(exp.config)
    except (ValueError, OSError):
        good = None
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="agent.export"):
        exp._reload_headers()
    assert (exp.sender is not before) == (good is not None)
    if good is None:
        assert "keeping the previous headers" in caplog.text
    assert MARK not in caplog.text
    assert exp.sender_alive()
