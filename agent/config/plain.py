"""The validated settings as plain data: what the running agent reads.

`adk-agent run` validates its settings with pydantic-settings, then re-executes itself with
this plain copy (see cli.run), so the long-running process never loads pydantic: about 23 MB
of resident memory on every node. Field names are the settings' names; `exporter` and
`endpoint` hold the effective values (OTEL_SDK_DISABLED and protocol defaults applied).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Config:
    exporter: str
    endpoint: str
    protocol: str
    grpc_client: str
    headers: dict[str, str] = field(repr=False)  # secret values
    headers_file: str | None
    compression: str
    export_timeout: float
    interval: float
    certificate: str | None
    client_key: str | None
    client_certificate: str | None
    insecure: bool | None
    temporality: str
    queue_max_batches: int
    queue_max_bytes: int
    queue_dir: str | None
    shutdown_timeout: float
    service_name: str
    service_name_explicit: bool  # set by the user rather than defaulted
    service_version: str | None
    git_commit: str | None
    resource_attributes: dict[str, str]
    root_path: str
    sources: list[str]
    source_intervals: dict[str, float]
    source_timeout: float
    metrics_enabled: list[str]
    metrics_disabled: list[str]
    metric_schema: str
    max_series: int
    per_cpu: bool
    processes: list[str]
    process_attributes: list[str]
    disks_include: list[str]
    disks_exclude: list[str]
    interfaces_include: list[str]
    interfaces_exclude: list[str]
    mountpoints_include: list[str]
    mountpoints_exclude: list[str]
    fs_types_include: list[str]
    fs_types_exclude: list[str]
    namespaces_include: list[str]
    namespaces_exclude: list[str]
    health_address: str
    log_level: str
    log_format: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> Config:
        return type(self)(**{**asdict(self), **changes})
