from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
