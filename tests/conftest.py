from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.collector import Rotel
from tests.harness import AgentProcess
from tests.otlp_receiver import Receiver

# --- OTLP harness fixtures (tests/otlp_receiver.py, tests/collector.py) ---------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started in-test OTLP/gRPC metrics Receiver on a free loopback port."""
    with Receiver() as r:
        yield r


@pytest.fixture
def rotel(receiver: Receiver, tmp_path: Path) -> Iterator[Rotel]:
    """A started Rotel collector forwarding to `receiver`; stopped (killed at worst) after."""
    collector = Rotel(receiver, tmp_path)
    try:
        yield collector.start()
    finally:
        # a collector still retrying a failed batch needs ~3 s to exit: don't wait for it
        collector.stop(timeout=1.0)


# --- end of OTLP harness fixtures -----------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable the settings read from the environment: each test sets what it needs."""
    for key in list(os.environ):
        if key.startswith(("ADK_AGENT_", "OTEL_", "K8S_")) or key in ("APP_VERSION",
                                                                      "GIT_COMMIT"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Start agents with `agents.append(AgentProcess(...))`; all are killed after the test."""
    started: list[AgentProcess] = []
    yield started
    for a in started:
        a.kill()


# Property tests explore new examples on every local run; CI replays a fixed sequence so a
# run's verdict does not depend on luck (explore wider with HYPOTHESIS_PROFILE=deep).
settings.register_profile("dev", max_examples=300)
settings.register_profile("ci", max_examples=300, derandomize=True, print_blob=True)
settings.register_profile("deep", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI")
                                                              else "dev"))
