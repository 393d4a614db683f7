"""Who a pod or container is, from the kubelet's log directories (no API, no token):

    var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log
    var/log/containers/<pod>_<namespace>_<container>-<container id>.log -> the file above

Namespaces, pod names and container names are DNS names, which hold no `_`; uids and ids hold
no `_` either, so the names split without ambiguity. The links name each container's id, and
their targets its pod's uid. A pod's sandbox ("pause") container gets no log, hence no link:
a container of a known pod whose id has no link is the sandbox.

Both directories are listed again only when their modification time changes (and once more
after a change too recent to trust, since a directory's mtime ticks more coarsely than events).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from enum import StrEnum

_ID = re.compile(r"[0-9a-f]{64}")
# A change within this many seconds of a listing may share its mtime tick: list again.
RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class PodIdentity:
    namespace: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class ContainerIdentity:
    namespace: str
    pod: str
    container: str  # k8s.container.name
    id: str
    pod_uid: str | None  # None when the link's target does not say


class Role(StrEnum):
    WORKLOAD = "workload"  # a container of the pod spec: it has a log
    SANDBOX = "sandbox"  # the pod's pause container: no log; in the pod's totals, no series
    UNKNOWN = "unknown"  # in a pod, but the node keeps no links to tell (no var/log/containers)
    PLAIN = "plain"  # not in a pod: a container no kubelet runs


def parse_pod_dir(name: str) -> PodIdentity | None:
    """`<namespace>_<pod>_<uid>` -> PodIdentity."""
    parts = name.split("_")
    if len(parts) != 3 or not all(parts):
        return None
    return PodIdentity(*parts)


def parse_link(name: str) -> ContainerIdentity | None:
    """`<pod>_<namespace>_<container>-<id>.log` -> ContainerIdentity without the pod uid."""
    if not name.endswith(".log"):
        return None
    head, _, cid = name[:-4].rpartition("-")
    parts = head.split("_")
    if not _ID.fullmatch(cid) or len(parts) != 3 or not all(parts):
        return None
    pod, namespace, container = parts
    return ContainerIdentity(namespace, pod, container, cid, None)


def uid_of_target(target: str) -> str | None:
    """The pod uid in a link's target `.../pods/<namespace>_<pod>_<uid>/<container>/N.log`
    (absolute on the node, so it is parsed, never followed)."""
    parts = target.split("/")
    pod = parse_pod_dir(parts[-3]) if len(parts) >= 3 else None
    return pod.uid if pod else None


def _stamp(path: str) -> tuple[int, int] | None:
    """(inode, mtime in ns) of a directory; None if it is not there."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_ino, st.st_mtime_ns


class KubeletLogs:
    """Pod and container identities of one node, re-listed only when the directories change.

    `refresh()` once a cycle (two stat calls when nothing changed), then `pod(uid)`,
    `container(id)` and `role(id, pod_uid)` are dictionary look-ups."""

    def __init__(self, root: str) -> None:
        self.pods_dir = os.path.join(root, "var/log/pods")
        self.links_dir = os.path.join(root, "var/log/containers")
        self.has_links = False  # whether the node keeps var/log/containers at all
        self.listings = 0  # directory listings made, for tests and the curious
        self._pods: dict[str, PodIdentity] = {}
        self._containers: dict[str, ContainerIdentity] = {}
        self._links: dict[str, ContainerIdentity | None] = {}  # by link name: one readlink each
        self._pods_stamp: tuple[int, int] | None = None
        self._links_stamp: tuple[int, int] | None = None
        self._pods_known = False
        self._links_known = False

    def refresh(self) -> None:
        now = time.time_ns()
        stamp = _stamp(self.pods_dir)
        if stamp is None or stamp != self._pods_stamp or not self._pods_known:
            self._pods = self._list_pods() if stamp else {}
            self._pods_stamp = stamp
            self._pods_known = stamp is not None and now - stamp[1] >= RACY_NS
        stamp = _stamp(self.links_dir)
        self.has_links = stamp is not None
        if stamp is None or stamp != self._links_stamp or not self._links_known:
            self._containers = self._list_links() if stamp else {}
            self._links_stamp = stamp
            self._links_known = stamp is not None and now - stamp[1] >= RACY_NS

    def pod(self, uid: str) -> PodIdentity | None:
        return self._pods.get(uid)

    def container(self, container_id: str) -> ContainerIdentity | None:
        return self._containers.get(container_id)

    def role(self, container_id: str, pod_uid: str | None) -> Role:
        if pod_uid is None:
            return Role.PLAIN
        if container_id in self._containers:
            return Role.WORKLOAD
        # A new container's cgroup exists a moment before the kubelet links its log: it counts
        # as the sandbox for at most a cycle.
        return Role.SANDBOX if self.has_links else Role.UNKNOWN

    def _list_pods(self) -> dict[str, PodIdentity]:
        self.listings += 1
        out: dict[str, PodIdentity] = {}
        try:
            names = os.listdir(self.pods_dir)
        except OSError:
            return out
        for name in names:
            if pod := parse_pod_dir(name):
                out[pod.uid] = pod
        return out

    def _list_links(self) -> dict[str, ContainerIdentity]:
        self.listings += 1
        try:
            names = os.listdir(self.links_dir)
        except OSError:
            return {}
        links: dict[str, ContainerIdentity | None] = {}
        out: dict[str, ContainerIdentity] = {}
        for name in names:
            ident = self._links.get(name)
            if ident is None or ident.pod_uid is None:  # new, or its pod was not yet known
                ident = self._resolve(name)
            links[name] = ident  # links that went are forgotten with their container
            if ident is not None:
                out[ident.id] = ident
        self._links = links
        return out

    def _resolve(self, name: str) -> ContainerIdentity | None:
        ident = parse_link(name)
        if ident is None:
            return None
        try:
            uid = uid_of_target(os.readlink(f"{self.links_dir}/{name}"))
        except OSError:  # not a link (a copied tree), or gone since the listing
            uid = None
        if uid is None:  # the pod by name, if only one pod has that name
            uids = [p.uid for p in self._pods.values()
                    if p.namespace == ident.namespace and p.name == ident.pod]
            uid = uids[0] if len(uids) == 1 else None
        return ContainerIdentity(ident.namespace, ident.pod, ident.container, ident.id, uid)
