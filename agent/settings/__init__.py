"""Settings: flags, ADK_AGENT_* and OTEL_* variables and the config file, validated with
pydantic-settings into the plain Config the running agent reads (agent/config)."""

from agent.settings.load import load_config, load_settings
from agent.settings.model import Settings
from agent.settings.values import PREFIX, ConfigError

__all__ = ["PREFIX", "ConfigError", "Settings", "load_config", "load_settings"]
