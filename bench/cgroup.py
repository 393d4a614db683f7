"""What reading pods and containers from the node costs, per cycle and per container, on a
generated node (tests/cgroup_tree.py, written to a temporary directory on tmpfs or disk):

  scan       agent.host.cgroup.Walker.scan(): the kubelet layout walked, ids matched
  identity   agent.host.kubelet.KubeletLogs.refresh() with nothing changed (two stat calls)
  read       agent.host.cgroupstats.read() of every pod and container cgroup, all ten files
  cycle      the three together, plus each container's role and identity looked up

CPU from time.thread_time over --cycles iterations (kernel time of the syscalls included).
The files are plain files here: on a real node the kernel also formats each cgroup file when
it is read (memory.stat the most), which --real-file measures on this machine's own cgroup.

    .venv/bin/python bench/cgroup.py [--pods 50] [--per-pod 4] [--cycles 200]
    valgrind --tool=callgrind .venv/bin/python bench/cgroup.py --cycles N --phase cycle
      (run with two values of N: the difference in instructions, divided by the difference
      in N, is the user-space cost of a cycle without the interpreter's start-up)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from entry import run_main  # noqa: E402

from agent.host import cgroup, cgroupstats, kubelet  # noqa: E402
from tests import cgroup_tree  # noqa: E402


def cpu_us(fn: Callable[[], object], cycles: int) -> float:
    fn()  # warm: the names matched, the identities listed
    start = time.thread_time()
    for _ in range(cycles):
        fn()
    return (time.thread_time() - start) / cycles * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--per-pod", type=int, default=4)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--phase", choices=("all", "cycle"), default="all")
    ap.add_argument("--dir", help="where to build the node (default: a temporary directory)")
    ap.add_argument("--real-file", action="append", default=[],
                    help="also time reading this file (e.g. a real cgroup's memory.stat)")
    ap.add_argument("--real-cgroup", action="append", default=[],
                    help="also time agent.host.cgroupstats.read() of this real cgroup directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        node = cgroup_tree.build(root, args.pods, args.per_pod)
        tree = cgroup.find_hierarchy(str(root)).path
        assert tree is not None
        walker = cgroup.Walker(tree)
        logs = kubelet.KubeletLogs(str(root))
        logs.refresh()
        # the log directories were just written: age them so the listing is trusted
        for d in (logs.pods_dir, logs.links_dir):
            os.utime(d, (time.time() - 3600,) * 2)
        scan = walker.scan()
        cgroups = [p.path for p in scan.pods] + [c.path for c in scan.containers]

        def read_all() -> None:
            for path in cgroups:
                cgroupstats.read(path)

        def cycle() -> int:
            s = walker.scan()
            logs.refresh()
            points = 0
            for p in s.pods:
                if cgroupstats.read(p.path) is not None and logs.pod(p.uid) is not None:
                    points += 1
            for c in s.containers:
                if logs.role(c.id, c.pod_uid) is kubelet.Role.SANDBOX:
                    continue
                if cgroupstats.read(c.path) is not None and logs.container(c.id) is not None:
                    points += 1
            return points

        workloads = len(node.workloads)
        assert cycle() == len(node.pods) + workloads
        if args.phase == "cycle":
            for _ in range(args.cycles):
                cycle()
            return 0
        n = len(cgroups)
        figures = {
            "scan": cpu_us(walker.scan, args.cycles),
            "identity": cpu_us(logs.refresh, args.cycles),
            "read": cpu_us(read_all, args.cycles),
            "cycle": cpu_us(cycle, args.cycles),
        }
        print(f"node: {len(node.pods)} pods, {workloads} workload containers, "
              f"{len(node.sandboxes)} sandboxes ({n} cgroups read, sandboxes in the read "
              f"figure only), {args.cycles} cycles")
        for name, us in figures.items():
            print(f"  {name:9} {us:9.0f} µs/cycle")
        print(f"  read      {figures['read'] / n:9.1f} µs per cgroup (10 files)")
        print(f"  cycle     {figures['cycle'] / (workloads + len(node.pods)):9.1f} µs per "
              "pod or workload container read")
    for path in args.real_file:
        with open(path, "rb") as f:
            size = len(f.read())

        def read_real(path: str = path) -> None:
            with open(path, "rb", buffering=0) as f:
                f.read()

        print(f"  {path} ({size} bytes): {cpu_us(read_real, args.cycles * 10):.1f} µs a read")
    offered = cgroup.find_hierarchy("/").files or cgroupstats.ALL_FILES
    for path in args.real_cgroup:
        present = sorted(f for f in offered if os.path.exists(f"{path}/{f}"))
        us = cpu_us(lambda path=path: cgroupstats.read(path, offered), args.cycles * 10)
        print(f"  {path}: {us:.1f} µs a read of {len(present)} files ({', '.join(present)})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
