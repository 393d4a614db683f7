"""The periodic schedule: each agent at its own phase of the interval, on a fixed period."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from agent.pipeline import phase
from tests.harness import AgentProcess
from tests.otlp_receiver import Receiver


def test_agents_run_their_cycles_at_their_own_phase(receiver: Receiver, agents: list,
                                                    tmp_path: Path) -> None:
    """Two real agents: each exports at once, then on a fixed 1 s period at the phase its
    service.instance.id gives, half an interval apart here."""
    interval = 1.0
    ids = [f"phase-test-{i}" for i in range(200)]
    early = next(i for i in ids if 0.1 < phase(i, interval) < 0.3)
    late = next(i for i in ids if 0.6 < phase(i, interval) < 0.8)
    started = {}
    for ident in (early, late):
        started[ident] = time.time()
        agents.append(AgentProcess({
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.endpoint}",
            "ADK_AGENT_INTERVAL": "1s", "ADK_AGENT_SOURCES": "system",
            "ADK_AGENT_RESOURCE_ATTRIBUTES": f"service.instance.id={ident}"}, workdir=tmp_path))

    def cycles(ident: str) -> list[float]:
        seen: dict[int, None] = {}
        for p in receiver.points("system.uptime"):
            if p.resource.get("service.instance.id") == ident:
                seen[p.time_unix_nano] = None
        return [t / 1e9 for t in seen]

    assert receiver.wait_for(lambda r: min(len(cycles(early)), len(cycles(late))) >= 6, 20), \
        [a.stderr() for a in agents]
    for ident in (early, late):
        first, *periodic = cycles(ident)
        assert first - started[ident] < 10  # the export at start-up, not at the phase
        for t in periodic:
            # how late each cycle's timestamp is against its slot (taken after the reads,
            # so a little late; generous for a loaded CI machine)
            lag = (t - phase(ident, interval) + 0.25) % interval - 0.25
            assert -0.05 < lag < 0.25, (ident, phase(ident, interval), t, lag)
        assert all(0.75 < b - a < 1.25 for a, b in itertools.pairwise(periodic))
