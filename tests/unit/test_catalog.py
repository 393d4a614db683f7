"""The catalog assembled from the sources' rows; the legacy adk_ names existing dashboards read,
exactly, as gauges; the metric filters."""

from __future__ import annotations

import pytest

from agent.catalog import BY_NAME, CATALOG, select
from agent.settings import ConfigError, load_config, load_settings
from agent.sources.base import Kind, Schema, Start

EXACT = {  # name: unit, as the dashboards know them
    "adk_system_cpu_usage_idle_percent": "%",
    "adk_process_cpu_usage_user_seconds": "s",
    "adk_process_cpu_usage_system_seconds": "s",
    "adk_system_memory_used_bytes": "By",
    "adk_system_memory_free_bytes": "By",
    "adk_system_network_packets_sent_total": "{packet}",
    "adk_system_network_packets_recv_total": "{packet}",
}
REST = (
    "adk_system_cpu_usage_percent", "adk_system_cpu_count", "adk_system_load_average_1m",
    "adk_system_load_average_5m", "adk_system_load_average_15m", "adk_system_memory_total_bytes",
    "adk_system_memory_available_bytes", "adk_system_memory_usage_percent",
    "adk_system_swap_used_bytes", "adk_system_swap_usage_percent",
    "adk_system_disk_usage_percent", "adk_system_disk_free_bytes",
    "adk_system_disk_read_bytes_total", "adk_system_disk_write_bytes_total",
    "adk_system_network_bytes_sent_total", "adk_system_network_bytes_recv_total",
    "adk_system_uptime_seconds", "adk_process_cpu_usage_percent", "adk_process_memory_rss_bytes",
    "adk_process_memory_vms_bytes", "adk_process_memory_usage_percent",
    "adk_process_page_faults", "adk_process_threads", "adk_process_open_fds",
    "adk_process_io_read_bytes_total", "adk_process_io_write_bytes_total", "adk_app_info",
)


def test_every_legacy_name_exists_as_a_gauge() -> None:
    for name, unit in EXACT.items():
        assert BY_NAME[name].kind is Kind.GAUGE and BY_NAME[name].unit == unit, name
    for name in REST:
        assert BY_NAME[name].kind is Kind.GAUGE, name
    assert {m.name for m in CATALOG if m.schema is Schema.ADK} == set(EXACT) | set(REST)
    assert BY_NAME["adk_process_page_faults"].attributes[-1] == "type"
    assert BY_NAME["adk_app_info"].attributes == ("version", "git_commit")


@pytest.mark.parametrize("schema,has_semconv,has_adk", [("semconv", True, False),
                                                        ("adk", False, True),
                                                        ("both", True, True)])
def test_schema_selects_the_names(schema: str, has_semconv: bool, has_adk: bool) -> None:
    names = {m.name for m in select(load_config(exporter="none", metric_schema=schema))}
    assert ("system.cpu.time" in names) == has_semconv
    assert ("adk_system_cpu_usage_idle_percent" in names) == has_adk


def test_metric_filters_and_defaults() -> None:
    default = {m.name for m in select(load_config(exporter="none"))}
    assert "system.cpu.frequency" not in default and "system.filesystem.limit" not in default
    s = load_config(exporter="none", metrics_enabled="system.cpu.frequency",
                    metrics_disabled="system.cpu.time,process.cpu.time")
    names = {m.name for m in select(s)}
    assert "system.cpu.frequency" in names and "system.cpu.time" not in names
    s = load_config(exporter="none", sources="cpu,memory")
    assert {BY_NAME[m.name].source for m in select(s)} == {"cpu", "memory"}
    with pytest.raises(ConfigError, match=r"did you mean 'system\.memory\.usage'"):
        load_settings(metrics_enabled="system.memory.usag")


def test_every_row_knows_its_source_and_names_are_unique() -> None:
    assert len(BY_NAME) == len(CATALOG)
    assert all(m.source for m in CATALOG)
    assert BY_NAME["system.memory.usage"].source == "memory"
    assert BY_NAME["otelcol_exporter_queue_size"].source == "agent"


def test_every_row_says_where_its_count_began() -> None:
    assert all(m.start is not None for m in CATALOG)
    by_source = {(m.source, m.start) for m in CATALOG if m.kind is not Kind.GAUGE}
    assert {start for source, start in by_source if source == "process"} == {Start.PROCESS}
    assert {start for source, start in by_source if source == "agent"} == {Start.AGENT}
    assert {start for source, start in by_source
            if source not in ("process", "agent")} == {Start.BOOT}
