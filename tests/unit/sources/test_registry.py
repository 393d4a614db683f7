"""The registry: every module of agent/sources is a source, found without a list to extend, and
a module that is not one stops the import with its name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.sources import SOURCES, RegistryError, discover
from tests.unit.rig import Rig

SOURCES_DIR = Path(__file__).resolve().parents[3] / "agent" / "sources"


def test_every_module_is_a_registered_source() -> None:
    modules = {p.stem for p in SOURCES_DIR.glob("*.py")} - {"__init__", "base"}
    assert {cls.__module__.rsplit(".", 1)[1] for cls in SOURCES.values()} == modules


def test_every_row_has_an_observer_and_every_observer_a_row() -> None:
    rig = Rig()
    for name, cls in SOURCES.items():
        assert set(rig.source(name).observers()) == {m.name for m in cls.metrics}, name


def _package(tmp_path: Path, name: str, modules: dict[str, str]) -> str:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module, text in modules.items():
        (pkg / f"{module}.py").write_text(text)
    sys.path.insert(0, str(tmp_path))
    return name


GOOD = ("from agent.sources.base import Source\n"
        "class Pressure(Source):\n    name = 'pressure'\n    metrics = ()\n")


def test_a_new_module_is_found(tmp_path: Path) -> None:
    pkg = _package(tmp_path, "pkg_good", {"pressure": GOOD})
    try:
        assert list(discover(pkg)) == ["pressure"]
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.parametrize(("text", "why"), [
    ("X = 1\n", "must define exactly one Source subclass"),
    (GOOD + "class Other(Source):\n    name = 'o'\n    metrics = ()\n", "it defines 2"),
    ("from agent.sources.base import Source\nclass P(Source):\n    metrics = ()\n",
     "declares no 'name'"),
])
def test_a_module_that_is_not_a_source_stops_the_import(tmp_path: Path, text: str,
                                                        why: str) -> None:
    pkg = _package(tmp_path, f"pkg_bad{abs(hash(text))}", {"broken": text})
    try:
        with pytest.raises(RegistryError, match=why):
            discover(pkg)
    finally:
        sys.path.remove(str(tmp_path))


def test_two_sources_of_one_name_stop_the_import(tmp_path: Path) -> None:
    pkg = _package(tmp_path, "pkg_dup", {"a": GOOD, "b": GOOD})
    try:
        with pytest.raises(RegistryError, match=r"'pressure' is taken by pkg_dup\.a"):
            discover(pkg)
    finally:
        sys.path.remove(str(tmp_path))
