"""The pipeline: sources bound to catalog rows, one read per cycle, fault isolation, the series
cap, slow sources, telemetry measured from above, the health figures."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import agent.host.procfs as procfs
from agent.host.cycle import per_cycle
from agent.pipeline import Agent
from agent.settings import load_config
from agent.sources import SOURCES
from tests.paths import HOSTROOT
from tests.unit.rig import config


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "root"
    shutil.copytree(HOSTROOT, dst)
    return dst


def agent_for(root: Path = HOSTROOT, **kw: object) -> Agent:
    return Agent(config(root, interval="1s", **kw))


def test_a_failing_source_loses_only_its_metrics(root: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_for(root)
    (root / "proc" / "loadavg").unlink()
    caplog.set_level(logging.INFO, logger="agent")
    for _ in range(3):
        out = agent.collect()
        assert out["system.cpu.load_average.1m"] is None  # failed, not empty
        assert out["system.memory.usage"]  # the others still report
        assert out["system.cpu.time"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "source load failed" in warnings[0].getMessage()
    assert "loadavg" in warnings[0].getMessage() and "Traceback" not in caplog.text
    assert agent.telemetry.failing["load"]
    (root / "proc" / "loadavg").write_text("0.5 0.4 0.3 1/100 1\n")
    out = agent.collect()
    assert [v for v, _ in out["system.cpu.load_average.1m"]] == [0.5]
    assert "source load recovered" in caplog.text
    assert agent.telemetry.errors["load"] == 9  # three metrics, three cycles
    assert not agent.telemetry.failing["load"]


def test_a_parse_error_is_isolated_too(root: Path) -> None:
    agent = agent_for(root)
    (root / "proc" / "meminfo").write_text("garbage\n")
    out = agent.collect()
    assert out["system.memory.usage"] is None and out["system.paging.usage"] is None
    assert out["system.disk.io"]
    assert agent.figures()["memory"] is None  # a failed read is no figure, not a stale one


def test_series_cap_folds_the_rest_and_warns_once_per_metric(
        caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_for(max_series=2)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        points = dict(agent.points())
        (io,) = [p for m, p in points.items() if m.name == "system.network.io"]
        assert len(io) == 2 and io[-1].attrs == {"otel.metric.overflow": True}
    assert caplog.text.count("system.network.io has 6 series") == 1


def test_disabled_sources_are_not_built_and_read_nothing(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    def boom(*a: object) -> None:
        raise AssertionError("read for a disabled source")

    for name in ("read_net_dev", "count_sockets", "read_diskstats"):
        monkeypatch.setattr(procfs, name, boom)
    agent = agent_for(sources="cpu,memory,load")
    assert set(agent.sources) == {"cpu", "memory", "load"}
    out = agent.collect()
    assert out["system.memory.usage"] and "system.network.io" not in out


def test_every_collection_reads_afresh(root: Path) -> None:
    agent = agent_for(root)
    assert [v for v, _ in agent.collect()["system.cpu.load_average.1m"]] == [1.5]
    (root / "proc" / "loadavg").write_text("0.5 0.4 0.3 1/100 1\n")
    # the next collection (periodic or the shutdown export alike) sees the change at once
    assert [v for v, _ in agent.collect()["system.cpu.load_average.1m"]] == [0.5]


def test_a_slow_source_keeps_its_reads_for_its_own_interval(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    calls = {"usage": 0, "times": 0}
    for cls, name in ((SOURCES["filesystem"], "usage"), (SOURCES["cpu"], "times")):
        real = getattr(cls, name).__wrapped__  # the read itself, under its per-cycle memo

        def counting(self: object, real=real, name=name) -> object:
            calls[name] += 1
            return real(self)

        counting.__name__ = name
        monkeypatch.setattr(cls, name, per_cycle(counting))
    # export every 10s, filesystem every 60s
    agent = Agent(config(HOSTROOT, interval="10s", source_intervals={"filesystem": "60s"}))
    for _ in range(7):  # a minute of cycles and one more
        agent.collect()
    assert calls == {"usage": 2, "times": 7}  # filesystem in cycles 1 and 7 only
    assert agent.sources["filesystem"].memo.every == 6 and agent.sources["cpu"].memo.every == 1


def test_both_schemas_come_from_the_same_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"meminfo": 0}
    real = procfs.read_keyed

    def counting(path: str, *a: object, **k: object) -> dict[str, int]:
        calls["meminfo"] += path.endswith("meminfo")
        return real(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(procfs, "read_keyed", counting)
    agent = Agent(load_config(exporter="none", metric_schema="both", service_version="1.2.3",
                              git_commit="abc"))
    calls["meminfo"] = 0
    out = agent.collect()
    assert calls["meminfo"] == 1  # semconv memory, adk memory, swap, process %: one read
    mem = out["adk_system_memory_total_bytes"][0][0]
    assert mem == out["system.memory.limit"][0][0]
    used = out["adk_system_memory_used_bytes"][0][0]
    avail = out["adk_system_memory_available_bytes"][0][0]
    assert used + avail == mem
    assert out["adk_app_info"] == [(1, {"version": "1.2.3", "git_commit": "abc"})]
    assert {a["type"] for _, a in out["adk_process_page_faults"]} == {"minor", "major"}


def test_telemetry_is_measured_from_above() -> None:
    agent = agent_for()
    agent.collect()
    seconds = agent.telemetry.seconds
    assert set(seconds) == {*agent.sources, "agent"} and all(s >= 0 for s in seconds.values())
    out = agent.collect()  # the agent source reports the last complete cycle
    reported = {a["scraper"]: v for v, a in out["otelcol_scraper_duration"]}
    assert set(reported) == set(agent.sources)  # not its own


def test_the_health_figures_of_every_source_after_a_cycle() -> None:
    agent = agent_for()
    assert agent.figures()["memory"] is None  # nothing read yet: nothing made up
    agent.collect()
    figures = agent.figures()
    assert set(figures) == {"cpu", "memory", "swap", "load", "network", "disk", "process",
                            "pressure", "containers"}
    assert None not in (figures["memory"], figures["swap"], figures["load"], figures["network"],
                        figures["pressure"])
    assert set(figures["disk"]) == {"read_bytes", "write_bytes", "usage"}  # two sources share


def test_each_sum_starts_on_its_declared_clock(root: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_for(root)
    fixed = {name: s.fixed for name, s in agent.series.metrics.items()}
    assert fixed["system.cpu.time"] == 1_700_000_000 * 10**9  # the fixture's btime
    assert fixed["system.memory.usage"] == 1_700_000_000 * 10**9
    assert fixed["cpython.gc.collections"] == agent.started_ns
    assert fixed["process.cpu.time"] is None  # each point's own process.creation.time
    stat = root / "proc" / "stat"
    stat.write_text(stat.read_text().replace("btime 1700000000\n", ""))
    caplog.set_level(logging.WARNING, logger="agent")
    agent = agent_for(root)
    assert agent.series.metrics["system.cpu.time"].fixed == agent.started_ns
    assert "boot time unknown" in caplog.text and "Traceback" not in caplog.text


def test_series_that_went_away_are_forgotten_not_folded_into_an_overflow() -> None:
    """Containers that come and go: the agent drops the series a cycle did not observe, so
    memory follows the live series and none is ever folded into otel.metric.overflow."""
    agent = Agent(config(HOSTROOT, sources="load", interval="3600s"))
    n = 0
    bound = next(b for b in agent.bound if b.metric.name == "system.cpu.load_average.1m")
    bound.observer = lambda: [(1.0, {"container.id": f"c{n}"}), (2.0, {"container.id": "kept"})]
    for n in range(2100):  # noqa: B007 - the observer reads it
        points = dict((m.name, p) for m, p in agent.points())
    assert {p.attrs["container.id"]: p.value for p in points["system.cpu.load_average.1m"]} \
        == {"c2099": 1.0, "kept": 2.0}
    assert len(agent.series.metrics["system.cpu.load_average.1m"]) == 2

