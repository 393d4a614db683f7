"""The host's pods and containers in one cycle: the cgroup v2 tree walked (host/cgroup.py), each
cgroup named from the kubelet's log directories (host/kubelet.py), then read, asking only for
the files the exported metrics need.

A cgroup's identity and its attribute dictionaries are kept while the cgroup exists, so a
series reuses one dict from cycle to cycle (the SDK and the encoder key on it), and they are
dropped with the cgroup: memory follows the host, not its history. A pod's sandbox ("pause")
container is left out (its usage stays in the pod's totals); a cgroup that vanishes between
the listing and the read costs only its own points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from agent.host import cgroup, cgroupstats
from agent.host.cgroup import Hierarchy, Mode
from agent.host.cgroupfiles import Budget, Held
from agent.host.cgroupstats import CgroupStats
from agent.host.kubelet import KubeletLogs, Role

log = logging.getLogger(__name__)

NAMESPACE, POD, POD_UID = "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid"
CONTAINER, CONTAINER_ID = "k8s.container.name", "container.id"
POD_KEYS = (NAMESPACE, POD, POD_UID)
CONTAINER_KEYS = (*POD_KEYS, CONTAINER, CONTAINER_ID)

LIMIT_FILES = frozenset({cgroupstats.CPU_MAX, cgroupstats.MEMORY_MAX})
AttrValue = str | int
Variant = tuple[tuple[str, ...], tuple[AttrValue, ...]]


@dataclass(slots=True)
class Entry:
    """One pod or container cgroup, kept while it exists. `attrs` is its identity; variants
    (identity + cpu.mode, + a device and direction...) are made once and reused."""

    identity: tuple[object, ...]  # what `attrs` was made from; a change remakes them
    attrs: dict[str, AttrValue]
    files: Held  # its cgroup's files, open while it exists
    in_pod: bool = True
    _variants: dict[Variant, dict[str, AttrValue]] = field(default_factory=dict)
    # its limits (cpu.max, memory.max) as last read, and at which read of the node
    limits: tuple[cgroupstats.CpuMax | None, int | None] | None = None
    limits_read: int = 0

    def variant(self, keys: tuple[str, ...], values: tuple[AttrValue, ...]
                ) -> dict[str, AttrValue]:
        attrs = self._variants.get((keys, values))
        if attrs is None:
            attrs = self._variants[(keys, values)] = {**self.attrs, **dict(zip(keys, values,
                                                                                 strict=True))}
        return attrs


Read = list[tuple[Entry, CgroupStats]]


@dataclass(slots=True)
class Snapshot:
    pods: Read = field(default_factory=list)
    containers: Read = field(default_factory=list)
    sandboxes: int = 0  # pod sandboxes seen (and left out)
    found_pods: int = 0  # in the tree, before the namespace filter
    found_containers: int = 0  # sandboxes not counted


def _attrs(keys: tuple[str, ...], values: tuple[str | None, ...]) -> dict[str, AttrValue]:
    """Identity attributes without the parts that are not known."""
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


class Node:
    """Reads the pods and containers of the host under `root`; made once, read every cycle.

    `pod_files` and `container_files` are the cgroup files the exported metrics need (none:
    that kind is not read at all). `keep(namespace)` filters by namespace before anything is
    read; namespace is None for a container outside Kubernetes or a pod of unknown name."""

    def __init__(self, root: str, pod_files: Collection[str], container_files: Collection[str],
                 keep: Callable[[str | None], bool] = lambda _ns: True,
                 limits_every: int = 1, budget: Budget | None = None) -> None:
        self.hierarchy: Hierarchy = cgroup.find_hierarchy(root)
        h = self.hierarchy
        self.walker = cgroup.Walker(h.path) if h.path is not None else None
        self.logs = KubeletLogs(root)
        self.pod_files = h.files & frozenset(pod_files)
        self.container_files = h.files & frozenset(container_files)
        self.keep = keep
        # Limits change only when the kubelet resizes a container: read when a cgroup first
        # appears, then every `limits_every` reads (a minute), not every cycle.
        self.limits_every = max(limits_every, 1)
        self._reads = 0
        # Files read every cycle stay open (host/cgroupfiles.py); the limits do not.
        self.budget = budget if budget is not None else Budget.of_process()
        self._entries: dict[str, Entry] = {}  # by cgroup path
        # v1 only, none, or hybrid (CPU time and PSI only): said at the first read, not here,
        # so that nothing is logged before the agent has started
        self._said_mode = h.mode is Mode.UNIFIED
        self._said_empty = self._said_found = self._said_links = False

    def read(self) -> Snapshot:
        out = Snapshot()
        if not self._said_mode:
            self._said_mode = True
            log.info("containers: %s", self.hierarchy.message)
        if self.walker is None:
            return out
        scan = self.walker.scan()
        self._tell(scan)
        if not scan:
            self._forget({})
            return out
        self._reads += 1
        self.logs.refresh()
        live: dict[str, Entry] = {}
        if self.pod_files:
            for pod in scan.pods:
                entry = self._pod(pod)
                if entry is not None:
                    live[pod.path] = entry
                    stats = self._read(entry, pod.path, self.pod_files)
                    if stats is not None:
                        out.pods.append((entry, stats))
        for ctr in scan.containers:
            role = self.logs.role(ctr.id, ctr.pod_uid)
            if role is Role.SANDBOX:
                out.sandboxes += 1
                continue
            if not self.container_files:
                continue
            entry = self._container(ctr, role)
            if entry is not None:
                live[ctr.path] = entry
                stats = self._read(entry, ctr.path, self.container_files)
                if stats is not None:  # None: gone since the scan
                    out.containers.append((entry, stats))
        self._forget(live)
        out.found_pods, out.found_containers = len(scan.pods), len(scan.containers) - out.sandboxes
        self._tell(scan, out)
        return out

    def _forget(self, live: dict[str, Entry]) -> None:
        """`live` becomes the entries; the others' cgroups are gone (or filtered out): their
        files are closed."""
        for path, entry in self._entries.items():
            if live.get(path) is not entry:
                entry.files.close()
        self._entries = live

    def close(self) -> None:
        self._forget({})

    def _read(self, entry: Entry, path: str, files: frozenset[str]) -> CgroupStats | None:
        """The cgroup's files, its limits from an earlier read while they are fresh enough."""
        fresh = (entry.limits is not None
                 and self._reads - entry.limits_read < self.limits_every)
        stats = entry.files.read(files - LIMIT_FILES if fresh else files)
        if stats is None:
            return None
        if fresh:
            stats.cpu_max, stats.memory_max = entry.limits  # type: ignore[misc]
        elif files & LIMIT_FILES:
            entry.limits, entry.limits_read = (stats.cpu_max, stats.memory_max), self._reads
        return stats

    def _pod(self, pod: cgroup.PodCgroup) -> Entry | None:
        ident = self.logs.pod(pod.uid)
        namespace, name = (ident.namespace, ident.name) if ident else (None, None)
        if not self.keep(namespace):
            return None
        identity = (namespace, name)
        entry = self._entries.get(pod.path)
        if entry is None or entry.identity != identity:
            entry = Entry(identity, _attrs(POD_KEYS, (namespace, name, pod.uid)),
                          self._files(entry, pod.path, self.pod_files))
        return entry

    def _container(self, ctr: cgroup.ContainerCgroup, role: Role) -> Entry | None:
        namespace = pod = name = None
        if role is Role.WORKLOAD:
            ident = self.logs.container(ctr.id)
            if ident is not None:
                namespace, pod, name = ident.namespace, ident.pod, ident.container
        elif ctr.pod_uid is not None:  # UNKNOWN: the pod's name if its log directory says
            pod_ident = self.logs.pod(ctr.pod_uid)
            if pod_ident is not None:
                namespace, pod = pod_ident.namespace, pod_ident.name
        if not self.keep(namespace):
            return None
        identity = (namespace, pod, name)
        entry = self._entries.get(ctr.path)
        if entry is None or entry.identity != identity:
            entry = Entry(identity, _attrs(CONTAINER_KEYS,
                                           (namespace, pod, ctr.pod_uid, name, ctr.id)),
                          self._files(entry, ctr.path, self.container_files),
                          in_pod=ctr.pod_uid is not None)
        return entry

    def _files(self, entry: Entry | None, path: str, files: frozenset[str]) -> Held:
        """A renamed cgroup's entry (its pod or container name learnt) keeps its open files."""
        if entry is not None:
            held, entry.files = entry.files, Held(path, (), self.budget)  # not closed twice
            return held
        return Held(path, files - LIMIT_FILES, self.budget)

    def _tell(self, scan: cgroup.Scan, out: Snapshot | None = None) -> None:
        """Info lines, each once: the tree has no containers; they were first found (with
        what was read of them); the kubelet's links are missing (no container names, and
        sandboxes cannot be told apart, so they are kept)."""
        path = self.hierarchy.path
        if out is None:
            if not scan and not self._said_empty:
                self._said_empty = True
                log.info("containers: no container cgroups under %s: nothing to export until "
                         "some appear", path)
            return
        if not self._said_found:
            self._said_found = True
            log.info("containers: %d pods and %d containers under %s (%d pod sandboxes left "
                     "out)", out.found_pods, out.found_containers, path, out.sandboxes)
        if scan.pods and not self.logs.has_links and not self._said_links:
            self._said_links = True
            log.info("containers: %s is missing: containers are reported without %s and pod "
                     "sandboxes cannot be told apart", self.logs.links_dir, CONTAINER)
