"""Builds a node's cgroup v2 tree and kubelet log directories of any size under a directory: a
host root for scale tests and the cost benchmark (the small hand-checked trees are the static
fixtures tests/fixtures/cgroup-*).

Every pod gets a sandbox container and `per_pod` workload containers; the files hold what a
6.x kernel writes (memory.stat in full), with values derived from the container's number so
any one can be checked. `host_root` makes such a node a host root for the whole agent (this
machine's /proc, /etc and /sys, the generated cgroup tree and kubelet logs):

    python -m tests.cgroup_tree DIR [--pods 50] [--per-pod 4] [--driver systemd]
    ADK_AGENT_ROOT_PATH=DIR adk-agent once          # or bench/run.py --containers-root DIR
"""

from __future__ import annotations

import argparse
import os
import time
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


def host_root(root: Path, pods: int, per_pod: int, driver: str = "systemd") -> Node:
    """A node built under `root` that the agent can take as its host root: `proc` and `etc` are
    this machine's (links), so are the entries of /sys but `fs` (whose `cgroup` is the node's)
    and `dev` (the node's block device names). The kubelet's log directories are aged, as on a
    node that has been up a while (a directory changed within 2 s is listed again)."""
    node = build(root, pods, per_pod, driver)
    for name in ("proc", "etc"):
        os.symlink(f"/{name}", root / name)
    for entry in os.scandir("/sys"):
        if entry.name not in ("fs", "dev"):
            os.symlink(entry.path, root / "sys" / entry.name)
    old = time.time() - 3600
    for d in ("var/log/pods", "var/log/containers"):
        os.utime(root / d, (old, old))
    return node


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a generated node as a host root.")
    ap.add_argument("root", type=Path, help="an empty or new directory")
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--per-pod", type=int, default=4, help="workload containers per pod")
    ap.add_argument("--driver", choices=("systemd", "cgroupfs"), default="systemd")
    a = ap.parse_args(argv)
    a.root.mkdir(parents=True, exist_ok=True)
    node = host_root(a.root, a.pods, a.per_pod, a.driver)
    print(f"{a.root}: {len(node.pods)} pods, {len(node.workloads)} containers "
          f"(+{len(node.sandboxes)} sandboxes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
