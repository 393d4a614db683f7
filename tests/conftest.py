from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.harness import AgentProcess, Receiver, Rotel


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def rotel(receiver: Receiver, tmp_path: Path) -> Iterator[Rotel]:
    c = Rotel(receiver, tmp_path).start()
    yield c
    c.stop()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Start agents with `agents.append(AgentProcess(...))`; all are killed after the test."""
    started: list[AgentProcess] = []
    yield started
    for a in started:
        a.kill()


@pytest.fixture(autouse=True)
def _procfs_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Agent points psutil at its host root for the whole process; undo that per test."""
    import psutil

    import agent.hostfs

    monkeypatch.setattr(agent.hostfs, "_procfs_path", agent.hostfs._procfs_path)
    monkeypatch.setattr(psutil, "PROCFS_PATH", psutil.PROCFS_PATH)


# Property tests explore new examples on every local run; CI replays a fixed sequence so a
# run's verdict does not depend on luck (explore wider with HYPOTHESIS_PROFILE=deep).
settings.register_profile("dev", max_examples=300)
settings.register_profile("ci", max_examples=300, derandomize=True, print_blob=True)
settings.register_profile("deep", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI")
                                                              else "dev"))
