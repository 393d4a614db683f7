"""Settings: the pydantic-settings model, its validation and precedence, and load_settings.

Precedence, highest first: command-line flags, ADK_AGENT_* variables, the standard OTEL_* (and
APP_VERSION / GIT_COMMIT) variables, the config file named by ADK_AGENT_CONFIG, defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    ByteSize,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent.catalog import BY_NAME, SOURCE_NAMES
from agent.config.endpoint import shown as shown_endpoint
from agent.config.headers import checked, read_file
from agent.config.plain import Config
from agent.config.targets import OPTIONAL_PROCESS_ATTRIBUTES, parse_target
from agent.settings.layers import StandardEnvSource, config_file_source
from agent.settings.values import (
    DEFAULT_DISKS_EXCLUDE,
    DEFAULT_FS_TYPES_EXCLUDE,
    DEFAULT_MOUNTPOINTS_EXCLUDE,
    PREFIX,
    CommaList,
    Duration,
    FilePath,
    Interval,
    Pairs,
    SecretPairs,
    require_known,
)


def _no_nul(value: object) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL byte")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _no_nul(v)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False,
        validate_default=True,
    )

    config: Path | None = Field(None, description="YAML or TOML config file (env only)")
    # export
    exporter: Literal["otlp", "console", "none"] = Field(
        "otlp", description="Where points go: an OTLP collector, stdout, or nowhere")
    endpoint: str | None = Field(
        None, description="Collector URL (default http://localhost:4317 for grpc, "
        "http://localhost:4318/v1/metrics for http/protobuf)")
    protocol: Literal["grpc", "http/protobuf"] = Field("grpc", description="OTLP transport")
    grpc_client: Literal["h2", "grpcio"] = Field(
        "h2", description="gRPC client: `h2` (built in, one kept-open HTTP/2 connection) or "
        "`grpcio` (grpcio's channel and OTLP stub; about 14 MB more resident memory)")
    headers: SecretPairs = Field(default_factory=dict,
                                 description="Export headers `k=v,...` (values are secrets)")
    headers_file: FilePath = Field(None, description="File of `key=value` header lines, re-read "
                                   "when it changes (a mounted Kubernetes Secret)")
    compression: Literal["none", "gzip", "deflate"] = Field("none", description="Payload "
                                                            "compression")
    export_timeout: Duration = Field(10.0, description="Time one export attempt may take "
                                     "(failed batches stay queued and are retried)")
    interval: Interval = Field(10.0, description="Collection and export interval")
    certificate: FilePath = Field(None, description="CA bundle to verify the collector")
    client_key: FilePath = Field(None, description="Client key for mTLS")
    client_certificate: FilePath = Field(None, description="Client certificate for mTLS")
    insecure: bool | None = Field(None, description="gRPC without TLS; default: true for "
                                  "http:// endpoints, false for https://")
    temporality: Literal["cumulative", "delta", "lowmemory"] = Field(
        "cumulative", description="Aggregation temporality of counters")
    sdk_disabled: bool = Field(False, description="Collect but export nothing (as exporter "
                               "none)")
    queue_max_batches: int = Field(500, ge=1, description="Batches kept while the collector "
                                   "is away (oldest dropped beyond)")
    queue_max_bytes: ByteSize = Field(
        ByteSize(16 << 20), ge=1 << 20, description="Encoded bytes kept while the collector is "
        "away, in memory or in ADK_AGENT_QUEUE_DIR (`64MiB`, `100MB` or bytes; at least 1MiB; "
        "oldest dropped beyond)")
    queue_dir: Path | None = Field(None, description="Keep the queue on disk here, so a restart "
                                   "loses nothing (a directory of its own: one agent at a time)")
    shutdown_timeout: Duration = Field(10.0, description="Time to export and drain the queue "
                                       "after SIGTERM")
    # resource
    service_name: str = Field("adk-agent", min_length=1, description="service.name")
    service_version: str | None = Field(None, description="service.version")
    git_commit: str | None = Field(None, description="vcs.ref.head.revision")
    resource_attributes: Pairs = Field(default_factory=dict,
                                       description="Extra resource attributes `k=v,...`")
    # collection
    root_path: Path = Field(Path("/"), description="Where the host's / is mounted")
    sources: CommaList = Field(default_factory=lambda: list(SOURCE_NAMES),
                               description="Sources that run")
    source_intervals: dict[str, Interval] = Field(
        default_factory=dict, description="Slower interval per source, e.g. "
        "ADK_AGENT_SOURCE_INTERVALS__FILESYSTEM=60s")
    metrics_enabled: CommaList = Field(default_factory=list,
                                       description="Metrics to turn on (off by default)")
    metrics_disabled: CommaList = Field(default_factory=list, description="Metrics to turn off")
    metric_schema: Literal["semconv", "adk", "both"] = Field(
        "semconv", description="Metric names: semantic conventions, the legacy adk_ catalog, or "
        "both from the same reads")
    source_timeout: Duration = Field(2.0, description="Longest a blocking read (statvfs of "
                                     "a stale network mount) may take before it is skipped")
    max_series: int = Field(1000, ge=1, description="Most series one metric exports; the "
                            "rest are folded into one `otel.metric.overflow=true` series, with "
                            "one warning naming the metric")
    per_cpu: bool = Field(False, description="cpu.logical_number series for each CPU")
    processes: CommaList = Field(default_factory=lambda: ["self"],
                                 description="Process targets: self, pid:N, pidfile:PATH, "
                                 "name:REGEX, cmdline:REGEX, top:cpu:N, top:memory:N")
    process_attributes: CommaList = Field(
        default_factory=list, description="Optional attributes of every process's points: "
        "process.owner, process.parent_pid (as first seen)")
    disks_include: CommaList = Field(default_factory=list, description="Disk device globs to "
                                     "keep (empty: all)")
    disks_exclude: CommaList = Field(default_factory=lambda: list(DEFAULT_DISKS_EXCLUDE),
                                     description="Disk device globs to drop")
    interfaces_include: CommaList = Field(default_factory=list, description="Interface globs "
                                          "to keep")
    interfaces_exclude: CommaList = Field(default_factory=list, description="Interface globs "
                                          "to drop")
    mountpoints_include: CommaList = Field(default_factory=list, description="Mount point globs "
                                           "to keep")
    mountpoints_exclude: CommaList = Field(
        default_factory=lambda: list(DEFAULT_MOUNTPOINTS_EXCLUDE),
        description="Mount point globs to drop")
    fs_types_include: CommaList = Field(default_factory=list, description="Filesystem type "
                                        "globs to keep")
    fs_types_exclude: CommaList = Field(default_factory=lambda: list(DEFAULT_FS_TYPES_EXCLUDE),
                                        description="Filesystem type globs to drop")
    namespaces_include: CommaList = Field(default_factory=list, description="Kubernetes "
                                          "namespace globs whose pods and containers to keep "
                                          "(empty: all; set, it drops containers outside pods)")
    namespaces_exclude: CommaList = Field(default_factory=list, description="Kubernetes "
                                          "namespace globs whose pods and containers to drop")
    # operation
    health_address: str = Field("127.0.0.1:13133", description="host:port of the health "
                                "endpoint; empty disables it")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info",
                                                                   description="Log level")
    log_format: Literal["text", "json"] = Field("text", description="Log line format")

    @field_validator("*", mode="before")
    @classmethod
    def _nul(cls, v: object) -> object:
        """No value holds a NUL byte (a path with one fails deep inside the OS, naming no
        setting; a config file can carry one where the environment cannot)."""
        _no_nul(v)
        return v

    @field_validator("log_level", "protocol", "grpc_client", "exporter", "compression",
                     "temporality", "log_format", "metric_schema", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, v: list[str]) -> list[str]:
        require_known(v, SOURCE_NAMES, "source")
        return v

    @field_validator("source_intervals")
    @classmethod
    def _known_interval_sources(cls, v: dict[str, float]) -> dict[str, float]:
        v = {k.lower(): d for k, d in v.items()}
        require_known(v, SOURCE_NAMES, "source")
        return v

    @field_validator("metrics_enabled", "metrics_disabled")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        require_known(v, BY_NAME, "metric")
        return v

    @field_validator("processes")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        for t in v:
            parse_target(t)
        return v

    @field_validator("process_attributes")
    @classmethod
    def _process_attributes(cls, v: list[str]) -> list[str]:
        require_known(v, OPTIONAL_PROCESS_ATTRIBUTES, "process attribute")
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        parts = urlsplit(v if "://" in v else f"http://{v}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected a URL such as http://collector:4317")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("the port is not a number from 0 to 65535") from None
        if "@" in parts.netloc:  # RFC 9113 8.3.1 forbids userinfo in :authority
            raise ValueError("credentials in the URL are not sent: put them in a header "
                             "(OTEL_EXPORTER_OTLP_HEADERS=authorization=Basic ...)")
        return v if "://" in v else f"http://{v}"

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, SecretStr], info: ValidationInfo) -> dict[str, SecretStr]:
        grpc = info.data.get("protocol", "grpc") == "grpc"
        plain = checked({k: s.get_secret_value() for k, s in v.items()}, grpc)
        return {k: SecretStr(value) for k, value in plain.items()}

    @field_validator("headers_file")
    @classmethod
    def _headers_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is not None:
            try:
                checked(read_file(str(v)), info.data.get("protocol", "grpc") == "grpc",
                        f"{v}: header")
            except OSError as exc:
                raise ValueError(f"cannot read {v}: {exc.strerror or exc}") from None
        return v

    @field_validator("queue_dir", mode="before")
    @classmethod
    def _queue_dir(cls, v: object) -> object:
        if isinstance(v, str | Path):
            text = str(v) if isinstance(v, Path) else v
            if not text.strip():
                raise ValueError("empty: name a directory, or leave it unset to keep the queue "
                                 "in memory")
            if "\x00" in text:
                raise ValueError("a path cannot hold a NUL byte")
            try:
                if Path(text).exists() and not Path(text).is_dir():
                    raise ValueError("not a directory")
            except OSError as exc:
                raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
        return v

    @field_validator("health_address")
    @classmethod
    def _address(cls, v: str) -> str:
        v = v.strip()
        if v:
            _host, sep, port = v.rpartition(":")
            if not sep or not port.isdigit() or int(port) > 65535:
                raise ValueError("expected host:port such as 127.0.0.1:13133")
        return v

    @field_validator("root_path")
    @classmethod
    def _root(cls, v: Path) -> Path:
        try:
            if not v.is_dir():
                raise ValueError(f"no such directory: {v}")
            if sys.platform.startswith("linux") and not (v / "proc" / "stat").exists():
                raise ValueError(f"{v} has no proc/stat: mount the host's /proc under it")
        except OSError as exc:
            raise ValueError(f"cannot read {v}: {exc.strerror or exc}") from None
        return v

    @model_validator(mode="after")
    def _mtls_pair(self) -> Settings:
        if (self.client_key is None) != (self.client_certificate is None):
            raise ValueError("client_key and client_certificate go together")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = init_settings.init_kwargs.get("config") or os.environ.get(PREFIX + "CONFIG")  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings,
                                                     StandardEnvSource(settings_cls)]
        if path:
            sources.append(config_file_source(settings_cls, Path(path)))
        return tuple(sources)

    # derived values
    @property
    def export_enabled(self) -> str:
        return "none" if self.sdk_disabled else self.exporter

    def to_config(self) -> Config:
        """The plain copy the running agent uses (no pydantic at run time)."""
        data = self.model_dump(exclude={"config", "sdk_disabled", "headers", "endpoint",
                                        "exporter"})
        data = {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}
        return Config(**data, exporter=self.export_enabled, endpoint=self.effective_endpoint,
                      headers={k: v.get_secret_value() for k, v in self.headers.items()},
                      service_name_explicit="service_name" in self.model_fields_set)

    @property
    def effective_endpoint(self) -> str:
        if self.endpoint:
            return self.endpoint
        return ("http://localhost:4317" if self.protocol == "grpc"
                else "http://localhost:4318/v1/metrics")

    def redacted(self) -> dict[str, Any]:
        """The effective settings for `check`: header values never shown."""
        data = self.model_dump(mode="json")
        data["headers"] = {k: "<redacted>" for k in self.headers}
        data["endpoint"] = shown_endpoint(self.effective_endpoint)  # no query string
        return data
