"""The floor: the OpenTelemetry SDK exporting, over OTLP/gRPC every second, constant points
shaped like adk-agent's: the same number of points under the same metric names, instrument
kinds, units, descriptions, attribute sets and resource, read from a JSON shape that
bench/run.py captured from one of adk-agent's exported requests. What adk-agent spends above
this process is the cost of its own reads and bookkeeping.

    python bench/floor.py http://127.0.0.1:PORT SHAPE.json [service.name]

Runs until terminated.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from child import every_second, run_until_signalled
from opentelemetry.metrics import Observation
from opentelemetry.sdk.resources import Resource


def shape_of(request: Any) -> dict[str, Any]:
    """An ExportMetricsServiceRequest as the floor's input (used by bench/run.py)."""

    def value(v: Any) -> Any:
        kind = v.WhichOneof("value")
        return getattr(v, kind) if kind else None

    def attrs(kvs: Any) -> dict[str, Any]:
        return {kv.key: value(kv.value) for kv in kvs}

    rm = request.resource_metrics[0]
    metrics = []
    scope = ""
    for sm in rm.scope_metrics:
        scope = sm.scope.name
        for m in sm.metrics:
            kind = m.WhichOneof("data")
            data = getattr(m, kind)
            if kind == "sum":
                kind = "counter" if data.is_monotonic else "updown"
            metrics.append({
                "name": m.name, "unit": m.unit, "description": m.description, "kind": kind,
                "points": [[dp.as_double if dp.WhichOneof("value") == "as_double" else dp.as_int,
                            attrs(dp.attributes)] for dp in data.data_points]})
    return {"resource": attrs(rm.resource.attributes), "scope": scope, "metrics": metrics}


def main(argv: list[str]) -> int:
    endpoint, path = argv[1], argv[2]
    name = argv[3] if len(argv) > 3 else "bench-floor"
    with open(path) as f:
        shape = json.load(f)
    provider = every_second(endpoint, Resource({**shape["resource"], "service.name": name}))
    meter = provider.get_meter(shape["scope"] or "floor")
    create = {"counter": meter.create_observable_counter,
              "updown": meter.create_observable_up_down_counter,
              "gauge": meter.create_observable_gauge}
    for m in shape["metrics"]:
        points = [Observation(v, a) for v, a in m["points"]]
        create[m["kind"]](m["name"], callbacks=[lambda _options, p=points: p], unit=m["unit"],
                          description=m["description"])
    return run_until_signalled(provider)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
