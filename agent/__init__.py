"""adk-agent: host and process metrics pushed over OTLP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("adk-agent")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

DISTRO_NAME = "adk-agent"
