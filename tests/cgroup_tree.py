"""Builds a node's cgroup v2 tree and kubelet log directories of any size under a directory: a
host root for scale tests and the cost benchmark (the small hand-checked trees are the static
fixtures tests/fixtures/cgroup-*).

Every pod gets a sandbox container and `per_pod` workload containers; the files hold what a
6.x kernel writes (memory.stat in full), with values derived from the container's number so
any one can be checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
QOS = ("guaranteed", "burstable", "besteffort")


def cid(n: int) -> str:
    return f"{n:064x}"


def pod_uid(n: int) -> str:
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def memory_stat(anon: int, inactive_file: int, pgfault: int, pgmajfault: int) -> str:
    lines = {"anon": anon, "file": 2 * inactive_file, "kernel": 2101248, "kernel_stack": 147456,
             "pagetables": 528384, "sec_pagetables": 0, "percpu": 5760, "sock": 0,
             "vmalloc": 8192, "shmem": 0, "zswap": 0, "zswapped": 0, "file_mapped": 4096000,
             "file_dirty": 8192, "file_writeback": 0, "swapcached": 0, "anon_thp": 0,
             "file_thp": 0, "shmem_thp": 0, "inactive_anon": anon, "active_anon": 0,
             "inactive_file": inactive_file, "active_file": inactive_file, "unevictable": 0,
             "slab_reclaimable": 602112, "slab_unreclaimable": 409600, "slab": 1011712,
             "workingset_refault_anon": 0, "workingset_refault_file": 12,
             "workingset_activate_anon": 0, "workingset_activate_file": 3,
             "workingset_restore_anon": 0, "workingset_restore_file": 0,
             "workingset_nodereclaim": 0, "pgscan": 140, "pgsteal": 120, "pgscan_kswapd": 0,
             "pgscan_direct": 140, "pgsteal_kswapd": 0, "pgsteal_direct": 120,
             "pgfault": pgfault, "pgmajfault": pgmajfault, "pgrefill": 0, "pgactivate": 45,
             "pgdeactivate": 0, "pglazyfree": 0, "pglazyfreed": 0, "zswpin": 0, "zswpout": 0,
             "thp_fault_alloc": 0, "thp_collapse_alloc": 0}
    return "".join(f"{k} {v}\n" for k, v in lines.items())


def write_cgroup(path: Path, n: int) -> None:
    """The files of one cgroup, values from n: cpu.stat usage is n ms, memory.current n MiB,
    inactive_file n/4 MiB (so the working set is 3n/4 MiB), pgfault 100n, pgmajfault n."""
    path.mkdir(parents=True, exist_ok=True)
    usage = n * 1000
    files = {
        "cgroup.procs": "",
        "cpu.stat": (f"usage_usec {usage}\nuser_usec {usage * 3 // 4}\n"
                     f"system_usec {usage - usage * 3 // 4}\ncore_sched.force_idle_usec 0\n"
                     f"nr_periods {n}\nnr_throttled {n // 10}\nthrottled_usec {n * 100}\n"
                     "nr_bursts 0\nburst_usec 0\n"),
        "cpu.max": "max 100000\n" if n % 2 else f"{n * 1000} 100000\n",
        "memory.current": f"{n * MIB}\n",
        "memory.stat": memory_stat(n * MIB // 2, n * MIB // 4, 100 * n, n),
        "memory.events": f"low 0\nhigh 0\nmax 0\noom 0\noom_kill {n % 3}\noom_group_kill 0\n",
        "memory.max": "max\n" if n % 2 else f"{4 * n * MIB}\n",
        "io.stat": (f"8:0 rbytes={n * 4096} wbytes={n * 8192} rios={n} wios={2 * n} "
                    "dbytes=0 dios=0\n"),
    }
    for resource in ("cpu", "memory", "io"):
        files[f"{resource}.pressure"] = (f"some avg10=0.00 avg60=0.00 avg300=0.00 total={n * 10}\n"
                                         f"full avg10=0.00 avg60=0.00 avg300=0.00 total={n}\n")
    for name, text in files.items():
        (path / name).write_text(text)


@dataclass
class Node:
    root: Path
    pods: dict[str, str] = field(default_factory=dict)  # uid -> qos
    workloads: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id -> ns, pod, name
    sandboxes: set[str] = field(default_factory=set)


def build(root: Path, pods: int, per_pod: int, driver: str = "systemd") -> Node:
    """A node with `pods` pods (QoS classes in turn) of one sandbox and `per_pod` workloads."""
    node = Node(root)
    cg = root / "sys/fs/cgroup"
    cg.mkdir(parents=True, exist_ok=True)
    for name in ("cgroup.controllers", "cgroup.subtree_control"):
        (cg / name).write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (cg / "cpu.pressure").write_text("some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n")
    dev = root / "sys/dev/block/8:0"
    dev.mkdir(parents=True, exist_ok=True)
    (dev / "uevent").write_text("MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n")
    logs, links = root / "var/log/pods", root / "var/log/containers"
    links.mkdir(parents=True, exist_ok=True)
    n = 0
    for p in range(pods):
        uid, qos = pod_uid(p + 1), QOS[p % 3]
        namespace, name = f"ns{p % 7}", f"pod-{p}"
        node.pods[uid] = qos
        if driver == "systemd":
            base = cg / "kubepods.slice"
            if qos != "guaranteed":
                base = base / f"kubepods-{qos}.slice"
            prefix = "kubepods" if qos == "guaranteed" else f"kubepods-{qos}"
            pod_dir = base / f"{prefix}-pod{uid.replace('-', '_')}.slice"
        else:
            base = cg / "kubepods" if qos == "guaranteed" else cg / "kubepods" / qos
            pod_dir = base / f"pod{uid}"
        n += 1
        write_cgroup(pod_dir, n)
        for c in range(per_pod + 1):
            n += 1
            ident = cid(n)
            write_cgroup(pod_dir / (f"cri-containerd-{ident}.scope" if driver == "systemd"
                                    else ident), n)
            if c == 0:
                node.sandboxes.add(ident)
                continue
            container = f"c{c}"
            node.workloads[ident] = (namespace, name, container)
            log = logs / f"{namespace}_{name}_{uid}" / container / "0.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("")
            os.symlink(f"/var/log/pods/{namespace}_{name}_{uid}/{container}/0.log",
                       links / f"{name}_{namespace}_{container}-{ident}.log")
    return node
