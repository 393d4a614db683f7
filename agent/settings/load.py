"""Loading the settings: flags over ADK_AGENT_* over OTEL_* over the config file over the
defaults (the Settings model), with every error one line that names where the bad value came
from (never a header value or a mistyped key's value)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from agent.config.durations import parse_duration
from agent.config.endpoint import shown as shown_endpoint
from agent.config.plain import Config
from agent.settings.layers import config_file_source
from agent.settings.model import Settings
from agent.settings.origin import origin
from agent.settings.values import PREFIX, ConfigError, closest


def _where(field: str, flags: dict[str, Any], config: str | None, key: str = "") -> str:
    """What an error names: the flag or variable that set the field, or the file's key."""
    found = origin(field, flags, config, key=key)
    if found is None:
        return field
    return f"{config}: key '{field}'" if found == config else found


def _is_duration(annotation: Any) -> bool:
    metadata = getattr(annotation, "__metadata__", ())
    if any(getattr(m, "func", None) is parse_duration for m in metadata):
        return True
    return any(_is_duration(a) for a in get_args(annotation))


# the settings that are durations (shown as such by `check`)
DURATIONS = {name for name, f in Settings.model_fields.items()
             if any(getattr(m, "func", None) is parse_duration for m in f.metadata)
             or _is_duration(f.annotation)}


def file_keys(path: str | None) -> set[str]:
    """The settings a config file sets (for `check`)."""
    if not path:
        return set()
    data = config_file_source(Settings, Path(path))()
    return {k.lower() for k in data}


def _check_unknown_env() -> None:
    fields = {f.upper() for f in Settings.model_fields}
    for key in os.environ:
        upper = key.upper()
        if upper.startswith(PREFIX):
            name = upper[len(PREFIX):].split("__", 1)[0]
            if name not in fields:
                close = closest(name, fields)
                hint = f" (did you mean {PREFIX}{close}?)" if close else ""
                raise ConfigError(f"{key}: not a setting of this agent{hint}")


def load_config(**flags: Any) -> Config:
    return load_settings(**flags).to_config()


def load_settings(**flags: Any) -> Settings:
    """Build the settings or raise ConfigError with one line naming the culprit."""
    flags = {k: v for k, v in flags.items() if v is not None}
    _check_unknown_env()
    config = flags.get("config") or os.environ.get(PREFIX + "CONFIG")
    try:
        return Settings(**flags)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else "settings"
        where = _where(field, flags, config, loc[1] if len(loc) > 1 else "")
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        if field == "endpoint" and isinstance(value, str):  # never its userinfo or query
            value = shown_endpoint(value)
        secret = field == "headers"
        if field not in Settings.model_fields:
            # an unknown key's value is never shown: `headerz:` may well hold a credential
            where = f"{config}: key '{field}'" if config else field
            close = closest(field, Settings.model_fields)
            msg = "not a setting of this agent" + (f" (did you mean '{close}'?)" if close
                                                   else "")
            secret = True
        shown = "" if secret or isinstance(value, dict | list) or value is None \
            else f" = {str(value)[:80]!r}"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{where}{shown}: {msg}{more}") from None
    except ConfigError:
        raise
    except (ValueError, TypeError, OSError) as exc:
        # pydantic-settings' own parse errors name the field, not where its value came from
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        named = re.search(r'field "(\w+)"', text)
        where = _where(named.group(1), flags, config) if named else "configuration"
        if named and "EnvSettingsSource" in text:
            text = "not valid JSON"
        raise ConfigError(f"{where}: {text}") from None
