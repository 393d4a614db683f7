"""cgroup v2: where the unified tree is, which of its cgroups are pods and containers.

Each step cheap by construction:

- `find_hierarchy(root)` once: the unified tree under the host root (`sys/fs/cgroup`, or
  `sys/fs/cgroup/unified` on a hybrid host), or why there is none (cgroup v1 only, no cgroup
  filesystem at all).
- `Walker.scan()` each cycle: one scandir per directory level of the kubelet's layouts (both
  cgroup drivers) and of the plain container runtimes' parents; names are matched once and
  remembered while they exist.
- `offered(tree)` once: which files a cgroup of this tree has (`read` of them is in
  agent/host/cgroupstats.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from agent.config.files import read_bytes
from agent.host.cgroupstats import CONTROLLER_FILES, CPU_PRESSURE, CPU_STAT, PRESSURE_FILES

# --- where the tree is ---------------------------------------------------------------------


class Mode(StrEnum):
    UNIFIED = "unified"  # cgroup v2 only
    HYBRID = "hybrid"  # v1 controllers, plus a v2 tree without them at sys/fs/cgroup/unified
    LEGACY = "legacy"  # cgroup v1 only
    NONE = "none"  # no cgroup filesystem under the root


# Directories a cgroup v1 mount leaves under sys/fs/cgroup (one per controller or co-mount).
_V1_DIRS = ("cpu", "cpuacct", "cpu,cpuacct", "memory", "blkio", "pids", "systemd")


@dataclass(frozen=True, slots=True)
class Hierarchy:
    mode: Mode
    path: str | None  # the cgroup v2 tree; None for LEGACY and NONE
    message: str  # one line for the log, naming the path
    files: frozenset[str] = frozenset()  # the cgroup files this tree's cgroups offer


def find_hierarchy(root: str) -> Hierarchy:
    """Find the cgroup v2 tree under a host root (`/`, or the host mount such as /hostfs)."""
    base = os.path.join(root, "sys/fs/cgroup")
    if os.path.exists(f"{base}/cgroup.controllers"):
        return Hierarchy(Mode.UNIFIED, base, f"cgroup v2 at {base}", offered(base))
    unified = f"{base}/unified"
    if os.path.exists(f"{unified}/cgroup.controllers"):
        return Hierarchy(Mode.HYBRID, unified,
                         f"cgroup v2 at {unified} on a hybrid host: CPU time and pressure only "
                         "(memory and I/O are accounted in cgroup v1, which is not read)",
                         offered(unified))
    if any(os.path.isdir(f"{base}/{d}") for d in _V1_DIRS):
        return Hierarchy(Mode.LEGACY, None,
                         f"{base} is cgroup v1 only: pod and container metrics need cgroup v2 "
                         "(the unified hierarchy); none are read")
    return Hierarchy(Mode.NONE, None, f"no cgroup filesystem at {base}")


# --- which cgroups are pods and containers -------------------------------------------------

# Where the kubelet puts pods: `kubepods` (cgroupfs driver) or `kubepods.slice` (systemd), at the
# top, or under a --cgroup-root such as kind's `kubelet`.
KUBEPODS = ("kubepods.slice", "kubepods", "kubelet.slice/kubelet-kubepods.slice",
            "kubelet/kubepods")
# Parents of containers that no kubelet runs (docker and podman, either cgroup driver), with
# the runtime their cgroupfs layout implies.
PLAIN_PARENTS = {"system.slice": None, "machine.slice": None, "docker": "docker",
                 "libpod_parent": "podman"}

# kubepods-burstable.slice, kubelet-kubepods-besteffort.slice (systemd); burstable (cgroupfs)
_QOS = re.compile(r"(?:[\w-]*-)?kubepods-(besteffort|burstable)\.slice|(besteffort|burstable)")
# kubepods-burstable-pod<uid with _>.slice, kubepods-pod<uid>.slice (systemd); pod<uid>
# (cgroupfs). A static pod's uid is 32 hex digits without dashes.
_POD = re.compile(r"(?:[\w-]*-)?pod([0-9a-f]{8}[0-9a-f_-]{24,28})(?:\.slice)?")
# <runtime>-<id>.scope (systemd), crio-<id> or the bare id (cgroupfs). crio-conmon-<id> (the
# CRI-O monitor process) and libpod-conmon-<id> do not match: they are not containers.
_CONTAINER = re.compile(r"(?:(cri-containerd|crio|docker|libpod)-)?([0-9a-f]{64})(?:\.scope)?")
RUNTIMES = {"cri-containerd": "containerd", "crio": "cri-o", "docker": "docker",
            "libpod": "podman"}


@dataclass(frozen=True, slots=True)
class PodCgroup:
    uid: str
    qos: str  # guaranteed, burstable, besteffort
    path: str


@dataclass(frozen=True, slots=True)
class ContainerCgroup:
    id: str  # the runtime's full container id (64 hex digits)
    runtime: str | None  # containerd, cri-o, docker, podman; None where the name does not say
    path: str
    pod_uid: str | None = None  # None outside Kubernetes


@dataclass(slots=True)
class Scan:
    pods: list[PodCgroup] = field(default_factory=list)
    containers: list[ContainerCgroup] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pods or self.containers)


def _subdirs(path: str) -> Iterator[str]:
    """Names of the directories in `path` (none if it has gone). cgroupfs and tmpfs give the
    type with each entry, so this costs one getdents walk and no stat."""
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    yield entry.name
    except (FileNotFoundError, NotADirectoryError):
        return


class _Names:
    """Verdicts of one name pattern, kept while the names exist: `turn()` at each scan drops
    the names that scan did not meet (removed cgroups), so the memory follows the host."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._seen: dict[str, re.Match[str] | None] = {}
        self._next: dict[str, re.Match[str] | None] = {}

    def __call__(self, name: str) -> re.Match[str] | None:
        try:
            verdict = self._seen[name]
        except KeyError:
            verdict = self.pattern.fullmatch(name)
        self._next[name] = verdict
        return verdict

    def turn(self) -> None:
        self._seen, self._next = self._next, {}


class Walker:
    """Lists the pods and containers of one cgroup v2 tree; made once, scanned every cycle.

    A steady-state scan is one scandir per directory level and a dictionary look-up per name:
    each name is matched against the layouts once, while it exists."""

    def __init__(self, tree: str) -> None:
        self.tree = tree
        self._qos = _Names(_QOS)
        self._pod = _Names(_POD)
        self._ctr = _Names(_CONTAINER)

    def scan(self) -> Scan:
        out = Scan()
        top = set(_subdirs(self.tree))
        for rel in KUBEPODS:
            if rel.partition("/")[0] in top:
                self._kubepods(f"{self.tree}/{rel}", out)
        for rel, runtime in PLAIN_PARENTS.items():
            if rel in top:
                self._containers(f"{self.tree}/{rel}", None, out, runtime)
        for names in (self._qos, self._pod, self._ctr):
            names.turn()
        return out

    def _kubepods(self, path: str, out: Scan) -> None:
        for name in _subdirs(path):
            if qos := self._qos(name):
                cls = qos[1] or qos[2]
                for pod_name in _subdirs(f"{path}/{name}"):
                    if pod := self._pod(pod_name):
                        self._add_pod(f"{path}/{name}/{pod_name}", pod[1], cls, out)
            elif pod := self._pod(name):
                self._add_pod(f"{path}/{name}", pod[1], "guaranteed", out)

    def _add_pod(self, path: str, uid: str, qos: str, out: Scan) -> None:
        uid = uid.replace("_", "-")  # the systemd driver writes the uid's dashes as _
        out.pods.append(PodCgroup(uid, qos, path))
        self._containers(path, uid, out)

    def _containers(self, path: str, pod_uid: str | None, out: Scan,
                    runtime: str | None = None) -> None:
        for name in _subdirs(path):
            if c := self._ctr(name):
                out.containers.append(ContainerCgroup(c[2], RUNTIMES.get(c[1] or "", runtime),
                                                      f"{path}/{name}", pod_uid))


def offered(tree: str) -> frozenset[str]:
    """The files worth asking a cgroup of this tree for: the controllers the root enables for
    its children (the kubelet needs cpu and memory there), and PSI where the kernel has it
    (the root then has cpu.pressure). Asking for a file that is not there costs a failed open
    and an exception per cgroup and cycle; on a hybrid host that is most of them."""
    files = {CPU_STAT}
    try:
        controllers = read_bytes(f"{tree}/cgroup.subtree_control").decode().split()
    except OSError:
        controllers = list(CONTROLLER_FILES)
    for controller in controllers:
        files.update(CONTROLLER_FILES.get(controller, ()))
    if os.path.exists(f"{tree}/{CPU_PRESSURE}"):
        files.update(PRESSURE_FILES)
    return frozenset(files)
