"""The health document against the fixture host root: its figures are the sources' own, from
the last cycle's reads, and asking costs no read."""

from __future__ import annotations

import json

import pytest

import agent.host.procfs as procfs
from agent.health.document import document
from agent.pipeline import Agent
from tests.unit.rig import config


def test_figures_of_the_fixture_host() -> None:
    agent = Agent(config())
    agent.collect()
    doc = document(agent, alive=True, ready=True, reason="")
    json.dumps(doc, allow_nan=False)  # valid JSON
    fig = doc["figures"]
    assert fig["memory"] == {"total_bytes": 16384000000, "used_bytes": 6144000000,
                             "free_bytes": 4096000000, "available_bytes": 10240000000,
                             "usage_percent": 37.5}
    assert fig["swap"] == {"used_bytes": 512000000, "free_bytes": 1536000000,
                           "usage_percent": 25.0}
    assert fig["load"] == {"1m": 1.5, "5m": 0.75, "15m": 0.25}
    assert fig["network"] == {"bytes_sent": 987659521, "bytes_recv": 123461889,
                              "packets_sent": 123508, "packets_recv": 654372}
    assert (fig["disk"]["read_bytes"], fig["disk"]["write_bytes"]) == (10752000, 21504000)
    assert set(fig["disk"]["usage"]) == {"/", "/data"}
    assert fig["cpu"]["count"] == 2 and fig["process"] == []  # no pid of ours in the fixture
    assert doc["status"] == "ok" and doc["failing_sources"] == []


def test_asking_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = Agent(config())
    agent.collect()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("the health document read the host")

    for name in ("read_stat", "read_keyed", "read_net_dev", "read_diskstats", "read_mounts"):
        monkeypatch.setattr(procfs, name, boom)
    for _ in range(3):
        assert document(agent, True, True, "")["figures"]["memory"]["usage_percent"] == 37.5


def test_the_processes_top_targets_chose() -> None:
    agent = Agent(config(processes="top:memory:2,top:cpu:1"))
    agent.collect()
    fig = document(agent, True, True, "")["figures"]
    assert fig["process_top"] == {"memory": [{"pid": 4242, "name": "nginx", "rank": 1,
                                              "rss_bytes": 3000 * procfs.PAGE_SIZE}],
                                  "cpu": []}  # nothing to measure from at the first cycle
    assert [p["pid"] for p in fig["process"]] == [4242]
    json.dumps(fig, allow_nan=False)
