"""The outbox: bounded in batches and bytes, oldest dropped first, mirrored on disk, read back
lazily after a restart, touching only the files the agent named."""

from __future__ import annotations

import logging
import tracemalloc
from collections import deque
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import ResourceMetrics

from agent.export.outbox import Outbox
from agent.export.spool import MAGIC_V1, MAX_CORRUPT


def _request(n: int) -> bytes:
    req = ExportMetricsServiceRequest()
    rm = ResourceMetrics()
    rm.schema_url = f"batch-{n}"
    req.resource_metrics.append(rm)
    return req.SerializeToString()


def _label(payload: bytes) -> str:
    return ExportMetricsServiceRequest.FromString(payload).resource_metrics[0].schema_url


def drain(box: Outbox) -> list[bytes]:
    out = []
    while (head := box.head()) is not None:
        out.append(head[1])
        box.pop(head[0])
    return out


def batches(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.otlp"))


def test_outbox_drops_oldest_when_full(tmp_path: Path) -> None:
    box = Outbox(3, tmp_path)
    for n in range(5):
        box.put(_request(n), 2)
    assert len(box) == 3 and box.dropped == 2 and box.dropped_points == 4
    assert len(batches(tmp_path)) == 3
    box.close()
    again = Outbox(3, tmp_path)  # a restart reads them back, oldest first
    assert [_label(p) for p in drain(again)] == ["batch-2", "batch-3", "batch-4"]
    assert not batches(tmp_path)


def test_outbox_skips_truncated_files(tmp_path: Path) -> None:
    box = Outbox(10, tmp_path)
    box.put(_request(1), 1)
    box.put(_request(2), 1)
    box.close()
    first = batches(tmp_path)[0]
    first.write_bytes(first.read_bytes()[:-3])
    again = Outbox(10, tmp_path)
    assert [_label(p) for p in drain(again)] == ["batch-2"]
    assert [p.name for p in tmp_path.glob("*.corrupt")] == [first.stem + ".corrupt"]


@pytest.mark.parametrize("on_disk", [False, True])
def test_the_bytes_bound_drops_the_oldest(tmp_path: Path, on_disk: bool) -> None:
    payloads = [bytes([n]) * 100 for n in range(10)]
    box = Outbox(1000, tmp_path if on_disk else None, max_bytes=350)
    for p in payloads:
        box.put(p, 1)
        assert box.bytes <= 350
    assert len(box) == 3 and box.dropped == 7 and box.dropped_points == 7
    if on_disk:  # on disk the same: the files hold what is queued, a header more
        assert sum(f.stat().st_size - 13 for f in batches(tmp_path)) == 300
    assert drain(box) == payloads[-3:] and box.bytes == 0


def test_the_newest_batch_is_kept_even_over_the_bound() -> None:
    box = Outbox(10, None, max_bytes=100)
    box.put(b"a" * 60, 1)
    box.put(b"b" * 500, 1)
    assert drain(box) == [b"b" * 500]


def test_loading_is_lazy_and_bounded_with_one_line(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """200 batches of 50 KB left by the last run: the index costs a fraction of them, the
    oldest beyond the bound go, and one line says how many and why."""
    box = Outbox(1000, tmp_path, max_bytes=1 << 30)
    for n in range(200):
        box.put(bytes([n]) * 50_000, 5)
    box.close()
    tracemalloc.start()
    with caplog.at_level(logging.INFO, logger="agent.queue"):
        again = Outbox(50, tmp_path, max_bytes=1 << 30)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000, f"loading took {peak} bytes: it read the batches"
    assert len(again) == 50 and again.dropped == 150 and again.dropped_points == 750
    assert len(batches(tmp_path)) == 50
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "200 batches" in lines[0]
    assert "dropped the 150 oldest beyond ADK_AGENT_QUEUE_MAX_BATCHES=50" in lines[0]
    assert drain(again) == [bytes([n]) * 50_000 for n in range(150, 200)]
    again.close()


def test_loading_within_the_bytes_bound(tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    box = Outbox(1000, tmp_path, max_bytes=1 << 30)
    for n in range(10):
        box.put(bytes([n]) * 1000, 1)
    box.close()
    with caplog.at_level(logging.INFO, logger="agent.queue"):
        again = Outbox(1000, tmp_path, max_bytes=4500)
    assert len(again) == 4 and again.bytes == 4000
    assert "dropped the 6 oldest beyond ADK_AGENT_QUEUE_MAX_BYTES" in caplog.text


def test_only_the_agents_own_files_are_touched(tmp_path: Path) -> None:
    """QUEUE_DIR=/tmp must not wipe /tmp/*.tmp: files the agent did not name stay as they
    are; its own unfinished writes go."""
    foreign = {"notes.tmp": b"mine", "x.otlp": b"not a batch", "data.corrupt": b"keep",
               "adkq-12.otlp": b"short", "00000000000000000001.txt": b"txt",
               "adkq-00000000000000000001.otlp.bak": b"backup"}
    for name, data in foreign.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "adkq-00000000000000000007.tmp").write_bytes(b"ADKQ2 half")
    box = Outbox(10, tmp_path)
    box.put(_request(1), 1)
    assert [_label(p) for p in drain(box)] == ["batch-1"]
    box.close()
    Outbox(10, tmp_path).close()
    left = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "adkq.lock"}
    assert left == foreign


def test_legacy_names_and_format_are_read(tmp_path: Path) -> None:
    import zlib

    payload = _request(7)
    (tmp_path / f"{3:020d}.otlp").write_bytes(
        MAGIC_V1 + zlib.crc32(payload).to_bytes(4, "big") + payload)
    box = Outbox(10, tmp_path)
    box.put(_request(8), 1)
    assert [_label(p) for p in drain(box)] == ["batch-7", "batch-8"]
    assert not batches(tmp_path)


def test_corrupt_files_are_bounded(tmp_path: Path) -> None:
    box = Outbox(100, tmp_path)
    for n in range(MAX_CORRUPT + 5):
        box.put(_request(n), 1)
    box.close()
    for f in batches(tmp_path):
        f.write_bytes(f.read_bytes()[:-1])  # every one torn
    again = Outbox(100, tmp_path)
    assert drain(again) == []
    kept = sorted(p.name for p in tmp_path.glob("*.corrupt"))
    assert len(kept) == MAX_CORRUPT
    assert kept == sorted(f"adkq-{n:020d}.corrupt" for n in range(6, MAX_CORRUPT + 6))


def test_a_second_outbox_on_the_directory_is_refused(tmp_path: Path) -> None:
    box = Outbox(10, tmp_path)
    with pytest.raises(ValueError, match=r"ADK_AGENT_QUEUE_DIR = '.*' is in use by another "
                                         r"running agent \(pid \d+\)"):
        Outbox(10, tmp_path)
    box.close()
    Outbox(10, tmp_path).close()  # free again


def test_a_path_that_cannot_be_a_directory_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"ADK_AGENT_QUEUE_DIR = .*cannot create it"):
        Outbox(10, tmp_path / "file" / "queue")


# -- a property: whatever happens, what is queued is what was put and not yet sent, in order,
# -- within the bounds, on disk as in memory, across restarts
OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(1, 400)),
    st.tuples(st.just("send"), st.just(0)),
    st.tuples(st.just("split"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0))), max_size=40)


@settings(deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, max_batches=st.integers(1, 6), max_bytes=st.integers(1, 1500),
       on_disk=st.booleans())
def test_the_queue_keeps_order_and_bounds(tmp_path_factory: pytest.TempPathFactory,
                                          ops: list[tuple[str, int]], max_batches: int,
                                          max_bytes: int, on_disk: bool) -> None:
    directory = tmp_path_factory.mktemp("q") if on_disk else None
    box = Outbox(max_batches, directory, max_bytes)
    model: deque[bytes] = deque()
    counter = 0
    for op, size in ops:
        if op == "put":
            counter += 1
            payload = counter.to_bytes(4, "big") * (size // 4 + 1)
            box.put(payload, 1)
            model.append(payload)
            while len(model) > 1 and (len(model) > max_batches
                                      or sum(map(len, model)) > max_bytes):
                model.popleft()
        elif op == "send" and model:
            head = box.head()
            assert head is not None and head[1] == model[0]
            box.pop(head[0])
            model.popleft()
        elif op == "split" and model and len(model[0]) >= 2:
            head = box.head()
            assert head is not None
            half = len(head[1]) // 2
            box.split(head[0], [(head[1][:half], 1), (head[1][half:], 1)])
            first = model.popleft()
            model.extendleft([first[half:], first[:half]])
        elif op == "restart" and directory is not None:
            box.close()
            box = Outbox(max_batches, directory, max_bytes)
            while len(model) > 1 and (len(model) > max_batches
                                      or sum(map(len, model)) > max_bytes):
                model.popleft()
        assert len(box) == len(model) and box.bytes == sum(map(len, model))
        if directory is not None:
            assert len(batches(directory)) == len(model)
            assert not list(directory.glob("*.tmp"))
    assert drain(box) == list(model)
    box.close()
