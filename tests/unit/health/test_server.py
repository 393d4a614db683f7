"""The probes: liveness from the collection clock, readiness from the last export."""

from __future__ import annotations

import time

from agent.health.server import Probes
from agent.pipeline import Agent
from tests.unit.rig import config


def test_wedged_loop_turns_liveness_503() -> None:
    agent = Agent(config(interval="1s", export_timeout="1s"))
    probes = Probes(agent)
    assert probes.alive()[0]
    agent.last_collect = time.monotonic() - 60  # no collection for a minute
    ok, why = probes.alive()
    assert not ok and "no collection for" in why


