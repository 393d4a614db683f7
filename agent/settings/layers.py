"""Where settings come from besides flags and ADK_AGENT_* variables: the standard OTEL_*
variables (and APP_VERSION / GIT_COMMIT) and the YAML or TOML config file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from agent.settings.values import PREFIX, ConfigError

# Standard variables, each mapped to a field; for a field the first one set wins. The OTLP
# timeout variables are in milliseconds.
STANDARD_ENV: dict[str, tuple[str, ...]] = {
    "endpoint": ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    "protocol": ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    "headers": ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    "compression": ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    "export_timeout": ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
                       "OTEL_METRIC_EXPORT_TIMEOUT"),
    "certificate": ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"),
    "client_key": ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
    "client_certificate": ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
                           "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
    "insecure": ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"),
    "interval": ("OTEL_METRIC_EXPORT_INTERVAL",),
    "temporality": ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",),
    "sdk_disabled": ("OTEL_SDK_DISABLED",),
    "service_name": ("OTEL_SERVICE_NAME",),
    "resource_attributes": ("OTEL_RESOURCE_ATTRIBUTES",),
    "service_version": ("APP_VERSION",),
    "git_commit": ("GIT_COMMIT",),
}
MILLISECONDS = {"export_timeout", "interval"}


class StandardEnvSource(PydanticBaseSettingsSource):
    """OTEL_* and the generic version variables, below ADK_AGENT_* and above the file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.origin: dict[str, str] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for var in STANDARD_ENV.get(field_name, ()):
            raw = os.environ.get(var)
            if raw is not None and raw.strip() != "":
                self.origin[field_name] = var
                raw = raw.strip()
                if field_name in MILLISECONDS and raw.replace(".", "", 1).isdigit():
                    raw = f"{raw}ms"
                return raw, var, False
        return None, "", False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                out[name] = value
        return out


def config_file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if not path.is_file():  # a FIFO, a directory, a device: never opened
        what = "not a regular file" if path.exists() else "no such file"
        raise ConfigError(f"{PREFIX}CONFIG: {what}: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            source: PydanticBaseSettingsSource = YamlConfigSettingsSource(settings_cls, path)
        elif suffix == ".toml":
            source = TomlConfigSettingsSource(settings_cls, path)
        else:
            raise ConfigError(f"{PREFIX}CONFIG: {path} is neither .yaml, .yml nor .toml")
    except ConfigError:
        raise
    except Exception as exc:  # a parse error: say where, not how the parser got there
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{PREFIX}CONFIG: cannot parse {path}: {detail}") from None
    data = source()
    if not isinstance(data, dict):
        raise ConfigError(f"{PREFIX}CONFIG: {path} must hold a mapping of settings")
    return source


