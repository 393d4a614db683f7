"""Settings: precedence, the standard OTEL_* variables, and one-line errors naming the culprit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.settings import ConfigError, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/conftest.py


def test_defaults() -> None:
    s = load_settings()
    assert s.interval == 10.0 and s.protocol == "grpc" and s.exporter == "otlp"
    assert s.effective_endpoint == "http://localhost:4317"
    assert s.service_name == "adk-agent" and s.processes == ["self"]


def test_precedence_flag_env_standard_file(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("interval: 30s\nendpoint: http://file:4317\nservice_name: from-file\n"
                   "protocol: http/protobuf\n")
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    s = load_settings()
    assert (s.interval, s.endpoint, s.service_name) == (30.0, "http://file:4317", "from-file")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "5000")  # milliseconds
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    s = load_settings()
    assert (s.interval, s.endpoint, s.service_name) == (5.0, "http://otel:4317", "from-otel")
    assert s.protocol == "http/protobuf"  # the file still fills what nothing else sets
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:4317")
    assert load_settings().endpoint == "http://metrics:4317"
    monkeypatch.setenv("ADK_AGENT_INTERVAL", "2s")
    monkeypatch.setenv("ADK_AGENT_ENDPOINT", "http://adk:4317")
    s = load_settings()
    assert (s.interval, s.endpoint) == (2.0, "http://adk:4317")
    s = load_settings(interval="500ms", endpoint="http://flag:4317")
    assert (s.interval, s.endpoint) == (0.5, "http://flag:4317")


def test_toml_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text('interval = "1m"\nprocesses = ["self", "name:^nginx$"]\n'
                   '[source_intervals]\nfilesystem = "5m"\n')
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    s = load_settings()
    assert s.interval == 60 and s.processes == ["self", "name:^nginx$"]
    assert s.source_intervals == {"filesystem": 300}


@pytest.mark.parametrize("text,seconds", [("500ms", 0.5), ("10s", 10), ("1m", 60), ("2", 2),
                                          ("1.5s", 1.5), ("1h", 3600)])
def test_durations(monkeypatch: pytest.MonkeyPatch, text: str, seconds: float) -> None:
    monkeypatch.setenv("ADK_AGENT_INTERVAL", text)
    assert load_settings().interval == seconds


def test_version_tags_fall_back_to_generic_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "1.2.3")
    monkeypatch.setenv("GIT_COMMIT", "abc123")
    s = load_settings()
    assert (s.service_version, s.git_commit) == ("1.2.3", "abc123")
    monkeypatch.setenv("ADK_AGENT_SERVICE_VERSION", "2.0.0")
    assert load_settings().service_version == "2.0.0"


def test_headers_and_resource_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret,x-tenant=a")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod,team=sre")
    s = load_settings()
    assert s.headers["api-key"].get_secret_value() == "s=cret"
    assert s.resource_attributes == {"deployment.environment.name": "prod", "team": "sre"}
    assert "s=cret" not in str(s.redacted()) and "s=cret" not in repr(s)


@pytest.mark.parametrize("env,expect", [
    ({"ADK_AGENT_INTERVAL": "soon"}, "ADK_AGENT_INTERVAL = 'soon': expected a duration"),
    ({"OTEL_METRIC_EXPORT_INTERVAL": "-5"}, "OTEL_METRIC_EXPORT_INTERVAL"),
    ({"ADK_AGENT_PROTOCOL": "thrift"}, "ADK_AGENT_PROTOCOL = 'thrift'"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, "OTEL_EXPORTER_OTLP_PROTOCOL = 'udp'"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"ADK_AGENT_ENDPOINT": "http://host:99999"}, "ADK_AGENT_ENDPOINT"),
    ({"ADK_AGENT_INTERVALL": "1s"}, "did you mean ADK_AGENT_INTERVAL?"),
    ({"ADK_AGENT_METRICS_DISABLED": "system.cpu.tme"}, "did you mean 'system.cpu.time'?"),
    ({"ADK_AGENT_SOURCES": "cpu,memroy"}, "did you mean 'memory'?"),
    ({"ADK_AGENT_PROCESSES": "name:("}, "bad regular expression"),
    ({"ADK_AGENT_PROCESSES": "proc:1"}, "ADK_AGENT_PROCESSES"),
    ({"ADK_AGENT_PROCESSES": "self,top:cpu:0"}, "ADK_AGENT_PROCESSES = 'self,top:cpu:0'"),
    ({"ADK_AGENT_PROCESSES": "top:disk:3"}, "top ranks by cpu or memory"),
    ({"ADK_AGENT_PROCESSES": "top:cpu:x"}, "ADK_AGENT_PROCESSES"),
    ({"ADK_AGENT_PROCESS_ATTRIBUTES": "process.ownr"}, "did you mean 'process.owner'?"),
    ({"ADK_AGENT_ROOT_PATH": "/does/not/exist"}, "ADK_AGENT_ROOT_PATH"),
    ({"OTEL_EXPORTER_OTLP_CERTIFICATE": "/no/ca.pem"}, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "token"}, "OTEL_EXPORTER_OTLP_HEADERS"),
    ({"ADK_AGENT_CONFIG": "/no/such.yaml"}, "ADK_AGENT_CONFIG: no such file"),
    ({"ADK_AGENT_HEALTH_ADDRESS": "localhost"}, "ADK_AGENT_HEALTH_ADDRESS"),
    ({"ADK_AGENT_SOURCE_INTERVALS": "{bad"}, "ADK_AGENT_SOURCE_INTERVALS: not valid JSON"),
    ({"ADK_AGENT_INTERVAL": "1ms"}, "ADK_AGENT_INTERVAL = '1ms': the shortest interval is 100ms"),
    ({"OTEL_METRIC_EXPORT_INTERVAL": "50"}, "OTEL_METRIC_EXPORT_INTERVAL"),
    ({"ADK_AGENT_SOURCE_INTERVALS__CPU": "10ms"}, "ADK_AGENT_SOURCE_INTERVALS__CPU"),
    ({"ADK_AGENT_SHUTDOWN_TIMEOUT": "10000000000"}, "at most 24h"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "100000000000"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"ADK_AGENT_QUEUE_DIR": ""}, "ADK_AGENT_QUEUE_DIR = '': empty: name a directory"),
    ({"ADK_AGENT_QUEUE_DIR": " "}, "ADK_AGENT_QUEUE_DIR = ' ': empty"),
    ({"ADK_AGENT_QUEUE_DIR": "/dev/null"}, "ADK_AGENT_QUEUE_DIR = '/dev/null': not a directory"),
    ({"ADK_AGENT_QUEUE_MAX_BYTES": "64k"}, "ADK_AGENT_QUEUE_MAX_BYTES = '64k': Input should be "
     "greater than or equal to 1048576"),
    ({"ADK_AGENT_QUEUE_MAX_BYTES": "lots"}, "ADK_AGENT_QUEUE_MAX_BYTES = 'lots'"),
])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                      expect: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expect in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_file_key_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("intervl: 10s\n")
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"agent.yaml: key 'intervl'"):
        load_settings()
    cfg.write_text("interval: [oops\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_settings()


def test_header_values_never_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer topsecret,broken")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "topsecret" not in str(err.value)


def test_a_nul_byte_names_its_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text('queue_dir: "/var/lib/q\\0ueue"\n')
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"agent.yaml: key 'queue_dir' .*NUL byte"):
        load_settings()
    monkeypatch.delenv("ADK_AGENT_CONFIG")
    with pytest.raises(ConfigError, match=r"--health-address .*NUL"):
        load_settings(health_address="127.0.0.1:1\x0033")


def test_a_fifo_config_file_is_not_opened(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    fifo = tmp_path / "agent.yaml"
    os.mkfifo(fifo)
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(fifo))
    with pytest.raises(ConfigError, match="ADK_AGENT_CONFIG: not a regular file"):
        load_settings()


def test_queue_bounds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load_settings().to_config().queue_max_bytes == 16 << 20
    monkeypatch.setenv("ADK_AGENT_QUEUE_MAX_BYTES", "64MiB")
    assert load_settings().to_config().queue_max_bytes == 64 << 20
    cfg = tmp_path / "agent.yaml"
    cfg.write_text('queue_dir: "/var/lib/q\\x00"\n')
    monkeypatch.setenv("ADK_AGENT_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"agent.yaml: key 'queue_dir'.*cannot hold a NUL byte"):
        load_settings()
