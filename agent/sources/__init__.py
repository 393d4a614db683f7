"""One module per domain; each turns its reads into observations for its catalog names."""

from __future__ import annotations

from agent.sources.base import Context, Source
from agent.sources.cpu import CpuSource
from agent.sources.disk import DiskSource
from agent.sources.filesystem import FilesystemSource
from agent.sources.load import LoadSource
from agent.sources.memory import MemorySource
from agent.sources.network import NetworkSource
from agent.sources.paging import PagingSource
from agent.sources.process import ProcessSource
from agent.sources.processes import ProcessesSource
from agent.sources.selftel import SelfSource
from agent.sources.system import SystemSource

REGISTRY: dict[str, type[Source]] = {
    cls.name: cls
    for cls in (CpuSource, MemorySource, PagingSource, DiskSource, FilesystemSource,
                NetworkSource, LoadSource, ProcessesSource, ProcessSource, SystemSource,
                SelfSource)
}

__all__ = ["REGISTRY", "Context", "Source"]
