"""Bytes per request, with and without gzip, and what a fleet sends its gateway collector.

Two adk-agents run at once with their default configuration (so the default 10 s interval)
but for the compression: `none` (the default) and `gzip`. Each exports over OTLP/gRPC through
its own byte-counting TCP relay (bench/receiver.py WireCounter) to its own local receiver,
which records each request's message size (protobuf, uncompressed) and points. After the
export at start-up (no utilization points yet: it is left out), `--requests` requests of each
are measured:

  message bytes   the ExportMetricsServiceRequest as serialised, uncompressed (median);
  wire bytes      what went over TCP from the agent per request (HTTP/2 frames, headers,
                  the compressed message), between two arrivals: the steady state on the
                  kept-open connection; and what came back (the reply, window updates).

Then the arithmetic for 1,000 and 10,000 nodes at 10 s and 60 s: requests per second and MB
per second arriving at the gateway (TCP payload; IP and TLS overheads not included). The
sizes depend on the host (its disks, interfaces, filesystems, CPUs and socket states make the
series): the machine's figures are printed with them.

    .venv/bin/python bench/fleet.py [--requests 3] [--interval 10s]

Written as JSON to bench/results/fleet.json. About 45 s at the default interval.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from entry import run_main  # noqa: E402
from receiver import Receiver, WireCounter  # noqa: E402
from run import RESULTS, Child, adk_agent_command, free_port, machine  # noqa: E402

COMPRESSIONS = ("none", "gzip")
NODES = (1_000, 10_000)
INTERVALS = (10.0, 60.0)


class Leg:
    """One agent -> its relay -> its receiver; the relay's counts taken at each arrival."""

    def __init__(self, compression: str, interval: str | None, results: Path) -> None:
        self.compression = compression
        self.wire_at: list[tuple[int, int]] = []
        self.receiver = Receiver(on_arrival=lambda _service: self.wire_at.append(
            self.relay.counts()))
        self.receiver.start()
        self.relay = WireCounter(self.receiver.endpoint)
        env = {"ADK_AGENT_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
               "ADK_AGENT_COMPRESSION": compression}
        if interval:
            env["ADK_AGENT_INTERVAL"] = interval
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ADK_AGENT_", "OTEL_"))}
        self.child = Child(f"fleet-{compression}",
                           [*adk_agent_command(), "run", "--endpoint",
                            f"http://{self.relay.endpoint}"], {**base, **env}, None)
        self.child.start(results)

    def requests(self) -> int:
        return len(self.receiver.arrivals)

    def figures(self, first: int, last: int) -> dict[str, Any]:
        """Requests first..last (0-based, arrival order); the wire bytes of first+1..last."""
        arrivals = self.receiver.arrivals[first:last + 1]
        (up0, down0), (up1, down1) = self.wire_at[first], self.wire_at[last]
        n = last - first
        return {"requests": len(arrivals),
                "points_per_request": int(statistics.median(a.points for a in arrivals)),
                "message_bytes": int(statistics.median(a.size for a in arrivals)),
                "wire_bytes_sent_per_request": round((up1 - up0) / n),
                "wire_bytes_received_per_request": round((down1 - down0) / n)}

    def stop(self) -> None:
        self.child.stop()
        self.relay.stop()
        self.receiver.stop()


def fleet(per_request: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for interval in INTERVALS:
        for nodes in NODES:
            row: dict[str, Any] = {"nodes": nodes, "interval_s": interval,
                                   "requests_per_s": round(nodes / interval, 1)}
            for c, f in per_request.items():
                row[f"MB_per_s_{c}"] = round(nodes / interval
                                             * f["wire_bytes_sent_per_request"] / 1e6, 3)
            rows.append(row)
    return rows


def report(r: dict[str, Any]) -> str:
    lines = ["bytes per request, adk-agent default configuration:",
             "| compression | points | message bytes | wire bytes sent | wire bytes back |",
             "|---|---|---|---|---|"]
    for c, f in r["per_request"].items():
        lines.append(f"| {c} | {f['points_per_request']} | {f['message_bytes']} | "
                     f"{f['wire_bytes_sent_per_request']} | "
                     f"{f['wire_bytes_received_per_request']} |")
    lines += ["", "at a gateway collector (TCP payload from the agents):",
              "| nodes | interval | requests/s | " + " | ".join(
                  f"MB/s {c}" for c in r["per_request"]) + " |",
              "|---|---|---|" + "---|" * len(r["per_request"])]
    for row in r["fleet"]:
        lines.append(f"| {row['nodes']:,} | {row['interval_s']:g} s | {row['requests_per_s']} | "
                     + " | ".join(str(row[f"MB_per_s_{c}"]) for c in r["per_request"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3,
                   help="requests measured after the first periodic one (default 3)")
    p.add_argument("--interval", default=None,
                   help="ADK_AGENT_INTERVAL of both agents (default: the agent's, 10s); the "
                   "sizes barely depend on it")
    p.add_argument("--json", type=Path, default=RESULTS / "fleet.json")
    a = p.parse_args(argv)
    if a.requests < 1:
        p.error("--requests: at least 1")
    RESULTS.mkdir(parents=True, exist_ok=True)
    legs = []
    try:
        for c in COMPRESSIONS:
            legs.append(Leg(c, a.interval, RESULTS))
        # arrival 0 is the export at start-up; 1 opens the window, 1 + requests closes it
        want = a.requests + 2
        print(f"waiting for {want} requests of each agent ...", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60 + want * 70
        while any(leg.requests() < want for leg in legs):
            for leg in legs:
                leg.child.check()
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for the agents' requests")
            time.sleep(0.2)
        per_request = {leg.compression: leg.figures(1, want - 1) for leg in legs}
    finally:
        for leg in legs:
            leg.stop()
    result = {"per_request": per_request, "fleet": fleet(per_request),
              "machine": machine(0, 1)}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    print(f"\nwritten to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
