"""The Python peer: opentelemetry-instrumentation-system-metrics with its default configuration,
exporting over OTLP/gRPC every second.

    python bench/peer.py http://127.0.0.1:PORT [service.name]

Only the resource's service.name is set (so the receiver can tell the senders apart); the
instrumentor runs with its defaults. Runs until terminated.
"""

from __future__ import annotations

import sys

from child import every_second, run_until_signalled
from opentelemetry import metrics
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.resources import Resource


def main(argv: list[str]) -> int:
    endpoint = argv[1]
    name = argv[2] if len(argv) > 2 else "bench-peer"
    provider = every_second(endpoint, Resource.create({"service.name": name}))
    metrics.set_meter_provider(provider)
    SystemMetricsInstrumentor().instrument()
    return run_until_signalled(provider)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
