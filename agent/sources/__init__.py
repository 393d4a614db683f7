"""The sources, found here: every module of this package but `base` defines exactly one Source
subclass, and that is its registration. A module that defines none, or two, or a name another
source has, stops the import with a message naming it, so nothing can silently fail to run."""

from __future__ import annotations

import importlib
import pkgutil

from agent.sources.base import Source

_NOT_SOURCES = {"base"}


class RegistryError(ImportError):
    pass


def discover(package: str) -> dict[str, type[Source]]:
    """The Source of every module of `package` (but `base`), by name, in module order."""
    path = importlib.import_module(package).__path__
    found: dict[str, type[Source]] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        if info.name in _NOT_SOURCES:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        classes = [c for c in vars(module).values()
                   if isinstance(c, type) and issubclass(c, Source)
                   and c.__module__ == module.__name__]
        if len(classes) != 1:
            raise RegistryError(f"{module.__name__} must define exactly one Source subclass "
                                f"(it defines {len(classes)})")
        cls = classes[0]
        for attr in ("name", "metrics"):
            if attr not in vars(cls):
                raise RegistryError(f"{module.__name__}.{cls.__name__} declares no {attr!r}")
        if cls.name in found:
            raise RegistryError(f"{module.__name__}: source name {cls.name!r} is taken by "
                                f"{found[cls.name].__module__}")
        found[cls.name] = cls
    return found


SOURCES: dict[str, type[Source]] = discover(__name__)
