"""adk-agent: host and process metrics pushed over OTLP."""

# The one place the version is written (pyproject reads it from here): importlib.metadata
# would cost the long-running agent ~4 MB of resident memory just to look it up.
__version__ = "0.1.0"

DISTRO_NAME = "adk-agent"
