"""The legacy adk_ catalog: the names existing dashboards read, exactly, as gauges."""

from __future__ import annotations

import pytest

from agent.catalog import ADK, BY_NAME, Kind
from agent.pipeline import Agent, select
from agent.settings import load_config

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
    assert {m.name for m in ADK} == set(EXACT) | set(REST)
    assert BY_NAME["adk_process_page_faults"].attributes[-1] == "type"
    assert BY_NAME["adk_app_info"].attributes == ("version", "git_commit")


@pytest.mark.parametrize("schema,has_semconv,has_adk", [("semconv", True, False),
                                                        ("adk", False, True),
                                                        ("both", True, True)])
def test_schema_selects_the_names(schema: str, has_semconv: bool, has_adk: bool) -> None:
    names = {m.name for m in select(load_config(exporter="none", metric_schema=schema))}
    assert ("system.cpu.time" in names) == has_semconv
    assert ("adk_system_cpu_usage_idle_percent" in names) == has_adk


def test_both_schemas_come_from_the_same_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.procfs as procfs

    calls = {"meminfo": 0}
    real = procfs.read_keyed

    def counting(path: str, *a: object, **k: object) -> dict[str, int]:
        calls["meminfo"] += path.endswith("meminfo")
        return real(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(procfs, "read_keyed", counting)
    agent = Agent(load_config(exporter="none", metric_schema="both", service_version="1.2.3",
                              git_commit="abc"))
    agent.new_cycle()
    calls["meminfo"] = 0
    out = agent.collect()
    assert calls["meminfo"] == 1  # semconv memory, adk memory, swap, process %: one read
    mem = out["adk_system_memory_total_bytes"][0][0]
    assert mem == out["system.memory.limit"][0][0]
    used = out["adk_system_memory_used_bytes"][0][0]
    avail = out["adk_system_memory_available_bytes"][0][0]
    assert used + avail == mem
    assert out["adk_app_info"] == [(1, {"version": "1.2.3", "git_commit": "abc"})]
    faults = {a["type"] for _, a in out["adk_process_page_faults"]}
    assert faults == {"minor", "major"}
