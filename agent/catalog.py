"""The metric catalog: every metric the agent can export, described once, as data.

A row names the metric, its instrument kind, unit, attribute keys, the source (domain) whose
reads feed it, whether it is on by default, and the schema it belongs to. Instruments, the
README tables, `check` and the metric filters are all derived from this table; the sources only
supply an observer per name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"  # monotonic total -> ObservableCounter
    UPDOWN = "updowncounter"  # an amount that can go down -> ObservableUpDownCounter
    GAUGE = "gauge"  # a ratio or level -> ObservableGauge


class Schema(StrEnum):
    SEMCONV = "semconv"
    ADK = "adk"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Kind
    unit: str
    source: str
    description: str
    attributes: tuple[str, ...] = ()
    enabled: bool = True
    schema: Schema = Schema.SEMCONV


C, U, G = Kind.COUNTER, Kind.UPDOWN, Kind.GAUGE
DIR = "disk.io.direction"
DEV = "system.device"
NET = ("network.interface.name", "network.io.direction")
PROC = ("process.pid", "process.executable.name", "process.command")
FS = (DEV, "system.filesystem.mode", "system.filesystem.mountpoint", "system.filesystem.state",
      "system.filesystem.type")

SEMCONV: tuple[Metric, ...] = (
    # cpu
    Metric("system.cpu.time", C, "s", "cpu", "Seconds each logical CPU spent in each mode",
           ("cpu.mode", "cpu.logical_number")),
    Metric("system.cpu.utilization", G, "1", "cpu",
           "Share of CPU time in each mode since the previous cycle, 0..1",
           ("cpu.mode", "cpu.logical_number")),
    Metric("system.cpu.logical.count", U, "{cpu}", "cpu", "Logical CPUs"),
    Metric("system.cpu.physical.count", U, "{cpu}", "cpu", "Physical CPU cores"),
    Metric("system.cpu.frequency", G, "Hz", "cpu", "Current CPU frequency", ("cpu.logical_number",),
           enabled=False),
    # load
    Metric("system.cpu.load_average.1m", G, "{thread}", "load", "1-minute load average"),
    Metric("system.cpu.load_average.5m", G, "{thread}", "load", "5-minute load average"),
    Metric("system.cpu.load_average.15m", G, "{thread}", "load", "15-minute load average"),
    # memory
    Metric("system.memory.usage", U, "By", "memory", "Memory in each state; states sum to the total",
           ("system.memory.state",)),
    Metric("system.memory.utilization", G, "1", "memory", "Share of memory in each state",
           ("system.memory.state",)),
    Metric("system.memory.limit", U, "By", "memory", "Total memory"),
    Metric("system.memory.linux.available", U, "By", "memory",
           "Memory available for new work without swapping (MemAvailable)"),
    Metric("system.memory.linux.shared", U, "By", "memory", "Shared memory (Shmem)", enabled=False),
    Metric("system.memory.linux.slab.usage", U, "By", "memory", "Slab memory by state",
           ("system.memory.linux.slab.state",), enabled=False),
    # paging / swap
    Metric("system.paging.usage", U, "By", "paging", "Swap space used and free",
           ("system.paging.state",)),
    Metric("system.paging.utilization", G, "1", "paging", "Share of swap space used and free",
           ("system.paging.state",)),
    Metric("system.paging.faults", C, "{fault}", "paging", "Page faults", ("system.paging.fault.type",)),
    Metric("system.paging.operations", C, "{operation}", "paging",
           "Pages paged (minor) or swapped (major) in and out",
           ("system.paging.direction", "system.paging.fault.type")),
    # disk
    Metric("system.disk.io", C, "By", "disk", "Bytes read and written", (DEV, DIR)),
    Metric("system.disk.operations", C, "{operation}", "disk", "Read and write operations", (DEV, DIR)),
    Metric("system.disk.io_time", C, "s", "disk", "Time the device had I/O in flight", (DEV,)),
    Metric("system.disk.operation_time", C, "s", "disk", "Time spent in read and write operations",
           (DEV, DIR)),
    Metric("system.disk.merged", C, "{operation}", "disk", "Adjacent operations merged", (DEV, DIR)),
    # filesystem
    Metric("system.filesystem.usage", U, "By", "filesystem", "Filesystem space by state", FS),
    Metric("system.filesystem.utilization", G, "1", "filesystem", "Share of filesystem space used",
           FS[:3] + FS[4:]),
    Metric("system.filesystem.limit", U, "By", "filesystem", "Filesystem size", FS[:3] + FS[4:],
           enabled=False),
    # network
    Metric("system.network.io", C, "By", "network", "Bytes sent and received", NET),
    Metric("system.network.packet.count", C, "{packet}", "network", "Packets sent and received", NET),
    Metric("system.network.errors", C, "{error}", "network", "Receive and transmit errors", NET),
    Metric("system.network.packet.dropped", C, "{packet}", "network", "Packets dropped", NET),
    Metric("system.network.connection.count", U, "{connection}", "network",
           "Sockets by transport and TCP state", ("network.transport", "network.connection.state")),
    # processes (host-wide)
    Metric("system.process.count", U, "{process}", "processes",
           "Processes running or blocked on I/O", ("process.state",)),
    Metric("system.process.created", C, "{process}", "processes", "Processes created since boot"),
    # system
    Metric("system.uptime", G, "s", "system", "Seconds since the host booted"),
    # process targets (the agent itself by default)
    Metric("process.cpu.time", C, "s", "process", "CPU seconds of the process", (*PROC, "cpu.mode")),
    Metric("process.cpu.utilization", G, "1", "process",
           "CPU time since the previous cycle over elapsed time and CPUs", (*PROC, "cpu.mode")),
    Metric("process.memory.usage", U, "By", "process", "Resident memory (RSS)", PROC),
    Metric("process.memory.virtual", U, "By", "process", "Virtual memory (VMS)", PROC),
    Metric("process.paging.faults", C, "{fault}", "process", "Page faults of the process",
           (*PROC, "system.paging.fault.type")),
    Metric("process.disk.io", C, "By", "process", "Bytes read from and written to storage",
           (*PROC, DIR)),
    Metric("process.thread.count", U, "{thread}", "process", "Threads of the process", PROC),
    Metric("process.unix.file_descriptor.count", U, "{file_descriptor}", "process",
           "Open file descriptors", PROC),
    Metric("process.context_switches", C, "{context_switch}", "process", "Context switches",
           (*PROC, "process.context_switch.type")),
)

# The legacy catalog existing dashboards read: gauges named adk_*, fed by the same per-cycle
# reads as the rows above (ADK_AGENT_METRIC_SCHEMA=adk or both).
A, PCT, MP = Schema.ADK, "%", ("mountpoint", "device")
APROC = ("pid", "name")
ADK: tuple[Metric, ...] = (
    Metric("adk_system_cpu_usage_percent", G, PCT, "cpu", "System-wide CPU busy percentage since the previous cycle, 0..100", schema=A),
    Metric("adk_system_cpu_usage_idle_percent", G, PCT, "cpu", "System-wide CPU idle percentage since the previous cycle, 0..100", schema=A),
    Metric("adk_system_cpu_count", G, "{cpu}", "cpu", "Logical CPUs", schema=A),
    Metric("adk_system_load_average_1m", G, "{thread}", "load", "1-minute load average", schema=A),
    Metric("adk_system_load_average_5m", G, "{thread}", "load", "5-minute load average", schema=A),
    Metric("adk_system_load_average_15m", G, "{thread}", "load", "15-minute load average", schema=A),
    Metric("adk_system_memory_total_bytes", G, "By", "memory", "Total system memory", schema=A),
    Metric("adk_system_memory_used_bytes", G, "By", "memory", "Used system memory (total - available, as psutil reports it)", schema=A),
    Metric("adk_system_memory_free_bytes", G, "By", "memory", "Free system memory (MemFree)", schema=A),
    Metric("adk_system_memory_available_bytes", G, "By", "memory", "Available system memory (MemAvailable)", schema=A),
    Metric("adk_system_memory_usage_percent", G, PCT, "memory", "Used memory as a percentage of the total", schema=A),
    Metric("adk_system_swap_used_bytes", G, "By", "paging", "Used swap", schema=A),
    Metric("adk_system_swap_usage_percent", G, PCT, "paging", "Used swap as a percentage of the total (0 without swap)", schema=A),
    Metric("adk_system_disk_usage_percent", G, PCT, "filesystem", "Used space per mount point, as df's Use%", MP, schema=A),
    Metric("adk_system_disk_free_bytes", G, "By", "filesystem", "Space free to users per mount point", MP, schema=A),
    Metric("adk_system_disk_read_bytes_total", G, "By", "disk", "Bytes read, all whole disks", schema=A),
    Metric("adk_system_disk_write_bytes_total", G, "By", "disk", "Bytes written, all whole disks", schema=A),
    Metric("adk_system_network_bytes_sent_total", G, "By", "network", "Bytes sent, all interfaces", schema=A),
    Metric("adk_system_network_bytes_recv_total", G, "By", "network", "Bytes received, all interfaces", schema=A),
    Metric("adk_system_network_packets_sent_total", G, "{packet}", "network", "Packets sent, all interfaces", schema=A),
    Metric("adk_system_network_packets_recv_total", G, "{packet}", "network", "Packets received, all interfaces", schema=A),
    Metric("adk_system_uptime_seconds", G, "s", "system", "Seconds since the host booted", schema=A),
    Metric("adk_process_cpu_usage_user_seconds", G, "s", "process", "Total user CPU time of the process", APROC, schema=A),
    Metric("adk_process_cpu_usage_system_seconds", G, "s", "process", "Total system CPU time of the process", APROC, schema=A),
    Metric("adk_process_cpu_usage_percent", G, PCT, "process", "Process CPU since the previous cycle, percent of one CPU (may exceed 100)", APROC, schema=A),
    Metric("adk_process_memory_rss_bytes", G, "By", "process", "Resident memory of the process", APROC, schema=A),
    Metric("adk_process_memory_vms_bytes", G, "By", "process", "Virtual memory of the process", APROC, schema=A),
    Metric("adk_process_memory_usage_percent", G, PCT, "process", "Resident memory as a percentage of system memory", APROC, schema=A),
    Metric("adk_process_page_faults", G, "{fault}", "process", "Page faults of the process by type (minor, major)", (*APROC, "type"), schema=A),
    Metric("adk_process_threads", G, "{thread}", "process", "Threads of the process", APROC, schema=A),
    Metric("adk_process_open_fds", G, "{file_descriptor}", "process", "Open file descriptors of the process", APROC, schema=A),
    Metric("adk_process_io_read_bytes_total", G, "By", "process", "Bytes the process read from storage", APROC, schema=A),
    Metric("adk_process_io_write_bytes_total", G, "By", "process", "Bytes the process wrote to storage", APROC, schema=A),
    Metric("adk_app_info", G, "1", "system", "Always 1; carries the version tags", ("version", "git_commit"), schema=A),
)

# The agent on itself, named like the OpenTelemetry Collector's own metrics.
SELF: tuple[Metric, ...] = (
    Metric("otelcol_exporter_sent_metric_points", C, "{datapoint}", "agent", "Points the collector accepted"),
    Metric("otelcol_exporter_send_failed_metric_points", C, "{datapoint}", "agent", "Points in failed export attempts: still queued (error.permanent false), or dropped for good, refused or too large even alone (true)", ("error.permanent",)),
    Metric("otelcol_exporter_enqueue_failed_metric_points", C, "{datapoint}", "agent", "Points dropped because the queue was full"),
    Metric("otelcol_exporter_queue_size", U, "{batch}", "agent", "Batches waiting for the collector"),
    Metric("otelcol_exporter_queue_capacity", U, "{batch}", "agent", "Most batches the queue keeps"),
    Metric("otelcol_exporter_send_duration", G, "s", "agent", "Duration of the last export attempt"),
    Metric("otelcol_scraper_duration", G, "s", "agent", "Time the last collection spent per source", ("scraper",)),
    Metric("otelcol_scraper_errored_metric_points", C, "{datapoint}", "agent", "Metric observations lost to source errors", ("scraper",)),
    # the agent's own interpreter, as the CPython runtime conventions name it
    Metric("cpython.gc.collections", C, "{collection}", "agent", "Garbage collections of each generation in the agent", ("cpython.gc.generation",)),
    Metric("cpython.gc.collected_objects", C, "{object}", "agent", "Objects the agent's garbage collector freed, by generation", ("cpython.gc.generation",)),
    Metric("cpython.gc.uncollectable_objects", C, "{object}", "agent", "Objects the agent's garbage collector found uncollectable, by generation", ("cpython.gc.generation",)),
)

CATALOG: tuple[Metric, ...] = SEMCONV + ADK + SELF
BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG}
SOURCES: tuple[str, ...] = ("cpu", "memory", "paging", "disk", "filesystem", "network", "load",
                            "processes", "process", "system", "agent")
