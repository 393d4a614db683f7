"""Bad configuration of every kind, thrown at the settings in-process (hypothesis): it loads, or
it is one line that names the culprit. The command's exit status is in tests/e2e/test_cli.py."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.settings import ConfigError, load_settings

VARIABLES = [
    "ADK_AGENT_INTERVAL", "ADK_AGENT_EXPORT_TIMEOUT", "ADK_AGENT_ENDPOINT", "ADK_AGENT_PROTOCOL",
    "ADK_AGENT_HEADERS", "ADK_AGENT_PROCESSES", "ADK_AGENT_SOURCES", "ADK_AGENT_METRICS_ENABLED",
    "ADK_AGENT_HEALTH_ADDRESS", "ADK_AGENT_QUEUE_MAX_BATCHES", "ADK_AGENT_PER_CPU",
    "ADK_AGENT_SOURCE_INTERVALS__FILESYSTEM", "ADK_AGENT_ROOT_PATH", "ADK_AGENT_MAX_SERIES",
    "ADK_AGENT_SOURCE_INTERVALS", "ADK_AGENT_QUEUE_DIR", "ADK_AGENT_QUEUE_MAX_BYTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_INSECURE", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_EXPORTER_OTLP_COMPRESSION",
]
# Values near the edges of what each setting takes, mixed with arbitrary text.
EDGY = st.sampled_from([
    "", " ", "0", "-1", "1e309", "nan", "10", "10s", "500ms", "1m", "99999999999999999999",
    "http://", "http://:4317", "https://h:0", "h:4317", "grpc", "http/protobuf", "a=b", "a=b,c",
    "=x", "k=%zz", "self", "pid:1", "name:[", "cmdline:.*", "cpu,,memory", "[\"cpu\"]", "[1,",
    "true", "false", "yes", "/nonexistent", "/", "{}", "\x7f", "é", "a" * 300,
])
VALUES = st.one_of(EDGY, st.text(max_size=40).filter(lambda s: "\x00" not in s))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("ADK_AGENT_", "OTEL_")):
            monkeypatch.delenv(key)


@settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(env=st.dictionaries(st.sampled_from(VARIABLES), VALUES, max_size=5))
def test_any_environment_loads_or_names_the_culprit(env: dict[str, str]) -> None:
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        try:
            load_settings()
        except ConfigError as exc:
            text = str(exc)
            assert "\n" not in text and "Traceback" not in text
            assert any(var in text for var in env), (text, env)  # the variable, by name
    finally:
        os.environ.clear()
        os.environ.update(saved)


@settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["interval", "endpoint", "processes", "headers",
                                             "sources", "resource_attributes", "per_cpu",
                                             "queue_max_batches", "bogus"]),
                            st.one_of(VALUES, st.integers(), st.lists(VALUES, max_size=3),
                                      st.dictionaries(VALUES, VALUES, max_size=2), st.none()),
                            max_size=4))
def test_any_config_file_loads_or_names_the_key(tmp_path_factory: pytest.TempPathFactory,
                                                body: dict) -> None:
    path = tmp_path_factory.mktemp("cfg") / "agent.json.yaml"
    path.write_text(json.dumps(body))  # JSON is YAML
    os.environ["ADK_AGENT_CONFIG"] = str(path)
    try:
        load_settings()
    except ConfigError as exc:
        text = str(exc)
        assert "\n" not in text and "Traceback" not in text
        assert str(path) in text or "ADK_AGENT_CONFIG" in text, text  # names the file
    finally:
        del os.environ["ADK_AGENT_CONFIG"]


