"""In-process costs: CPU per collection for each source, how a cycle grows with the number of
series (process targets), and what counting sockets by state costs three ways.

    python bench/cycle.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent import procfs, sockdiag  # noqa: E402
from agent.pipeline import Agent  # noqa: E402
from agent.settings import load_config  # noqa: E402


def per_source(rounds: int = 300) -> dict[str, float]:
    """Microseconds of CPU per cycle for each source's reads and observations."""
    agent = Agent(load_config(exporter="none"))
    for _ in range(5):
        agent.new_cycle()
        agent.collect()
    spent: dict[str, float] = {}
    for _ in range(rounds):
        agent.new_cycle()
        for bound in agent.bound:
            t = time.thread_time()
            agent.observe(bound)
            spent[bound.metric.source] = spent.get(bound.metric.source, 0.0) + \
                time.thread_time() - t
    return {k: round(v / rounds * 1e6, 1) for k, v in spent.items()}


def cycle_cost(config: Any, rounds: int = 100) -> tuple[float, int]:
    """(ms of CPU per collection, series per collection)."""
    agent = Agent(config)
    agent.collect()
    series = 0
    t = time.thread_time()
    for _ in range(rounds):
        agent.new_cycle()
        series = sum(len(v) for v in agent.collect().values())
    return (time.thread_time() - t) / rounds * 1000, series


def scaling() -> list[dict[str, float]]:
    """A cycle with 1, 10 and 100 process targets (sleeping children): linear growth."""
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
                for _ in range(100)]
    try:
        out = []
        for n in (1, 10, 100):
            targets = ",".join(f"pid:{c.pid}" for c in children[:n])
            ms, series = cycle_cost(load_config(exporter="none", processes=targets,
                                                sources="process"))
            out.append({"targets": n, "series": series, "ms_per_cycle": round(ms, 3),
                        "us_per_series": round(ms * 1000 / series, 2)})
        return out
    finally:
        for c in children:
            c.kill()
            c.wait()


def connection_counting(extra: int = 1000, rounds: int = 20) -> dict[str, float]:
    """ms per count of TCP sockets by state, with `extra` loopback connections open."""
    import psutil

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(extra)
    clients, accepted = [], []
    try:
        for _ in range(extra):
            c = socket.create_connection(server.getsockname())
            clients.append(c)
            accepted.append(server.accept()[0])

        def timed(fn: Any) -> float:
            t = time.perf_counter()
            for _ in range(rounds):
                fn()
            return round((time.perf_counter() - t) / rounds * 1000, 3)

        counter = sockdiag.SocketCounter()
        return {"sockets": extra * 2 + 1,
                "netlink_sock_diag_ms": timed(counter.count),
                "proc_net_tcp_ms": timed(lambda: procfs.count_sockets("/proc/net")),
                "psutil_net_connections_ms": timed(lambda: psutil.net_connections("inet"))}
    finally:
        for s in clients + accepted + [server]:
            s.close()


def main() -> int:
    result = {"per_source_us": per_source(), "scaling": scaling(),
              "connections": connection_counting()}
    out = ROOT / "bench" / "results" / "cycle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print("CPU per cycle by source (us):", result["per_source_us"])
    for row in result["scaling"]:
        print(f"{row['targets']:>4} targets: {row['series']:>5} series, "
              f"{row['ms_per_cycle']} ms/cycle, {row['us_per_series']} us/series")
    c = result["connections"]
    print(f"counting {c['sockets']} sockets by state: netlink {c['netlink_sock_diag_ms']} ms, "
          f"/proc/net/tcp {c['proc_net_tcp_ms']} ms, psutil.net_connections "
          f"{c['psutil_net_connections_ms']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
