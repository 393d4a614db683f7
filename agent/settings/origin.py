"""Where each setting came from — a flag, an ADK_AGENT_* variable, a standard OTEL_* one, the
config file or the default — for `check` and for errors that name the culprit. It follows the
precedence the settings apply: flags > ADK_AGENT_* > OTEL_* > file > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from agent.settings.layers import STANDARD_ENV
from agent.settings.values import PREFIX


def origin(field: str, flags: Mapping[str, Any], file: str | None,
           file_keys: set[str] | None = None, key: str = "") -> str | None:
    """The flag or variable that set `field` (its `key` for a nested one), `file` when the
    config file did, None for the default. Without `file_keys`, a file is assumed to hold
    every field the environment does not set."""
    if field in flags:
        return "--" + field.replace("_", "-")
    env_name = PREFIX + field.upper()
    names = {k.upper() for k in os.environ}
    nested = f"{env_name}__{key.upper()}"
    if key and nested in names:
        return nested
    if env_name in names or any(n.startswith(env_name + "__") for n in names):
        return env_name
    for var in STANDARD_ENV.get(field, ()):
        if os.environ.get(var, "").strip():
            return var
    if file and (file_keys is None or field in file_keys):
        return file
    return None


def origins(fields: list[str], flags: Mapping[str, Any], file: str | None,
            file_keys: set[str]) -> dict[str, str]:
    """Every field's origin as `check` shows it."""
    out = {}
    for field in fields:
        found = origin(field, flags, file, file_keys)
        out[field] = "default" if found is None else (
            f"file {found}" if found == file else found)
    return out
