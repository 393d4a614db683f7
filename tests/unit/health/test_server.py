"""The probes: liveness from the collection clock, readiness from the last export."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from agent.health.server import Probes
from agent.pipeline import Agent
from tests.paths import HOSTROOT
from tests.unit.rig import config


def test_wedged_loop_turns_liveness_503() -> None:
    agent = Agent(config(interval="1s", export_timeout="1s"))
    probes = Probes(agent)
    assert probes.alive()[0]
    agent.last_collect = time.monotonic() - 60  # no collection for a minute
    ok, why = probes.alive()
    assert not ok and "no collection for" in why




def test_a_nan_load_average_is_null_in_valid_json(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(HOSTROOT, root)
    (root / "proc" / "loadavg").write_text("nan inf -inf 1/100 1\n")
    agent = Agent(config(root, interval="1s"))
    agent.collect()
    agent.last_collect = time.monotonic()

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    doc = json.loads(Probes(agent).health_json(), parse_constant=no_constants)
    assert doc["figures"]["load"] == {"1m": None, "5m": None, "15m": None}


def test_a_sender_thread_that_ended_turns_liveness_503() -> None:
    agent = Agent(config(interval="1s").replace(exporter="otlp", endpoint="http://127.0.0.1:9"))
    agent.start()
    try:
        probes = Probes(agent)
        assert probes.alive()[0]
        exporter = agent.exporter
        assert exporter is not None and exporter.sender_alive()
        exporter._stop.set()  # the thread ends as if it had died
        with exporter._changed:
            exporter._changed.notify_all()
        exporter._thread.join(5)
        assert probes.alive() == (False, "the export thread has stopped")
        agent.stopping = True  # at shutdown it ends on purpose
        assert probes.alive()[0]
    finally:
        agent.shutdown(timeout=0.2)
