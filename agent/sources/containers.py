"""containers: the node's pods and containers from cgroup v2 and the kubelet's log directories,
no API access (agent/host/containers.py reads them). Identity (`k8s.namespace.name`,
`k8s.pod.name`, `k8s.pod.uid`, `k8s.container.name`, `container.id`) goes on every point.

Each row says which cgroup files it needs; only the files of exported rows are read, once per
cycle for all rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from agent.host import cgroupstats as cs
from agent.host.cgroupstats import CgroupStats
from agent.host.containers import CONTAINER_KEYS, POD_KEYS, Node, Read, Snapshot
from agent.host.cycle import every_cycles, per_cycle
from agent.sources.base import (
    AttrValue,
    Context,
    Figures,
    Kind,
    Metric,
    NameFilter,
    Obs,
    Observer,
    Source,
    exported,
)

C, U = Kind.COUNTER, Kind.UPDOWN
MODE, FAULT, STALL = "cpu.mode", "system.paging.fault.type", "system.linux.pressure.stall_type"
DEV, DIR = "system.device", "disk.io.direction"
Value = float | int
Device = Callable[[str], str | None]  # "8:0" -> "sda", or None when the disk filter drops it
Split = Callable[[CgroupStats, Device], Iterable[tuple[Value, tuple[AttrValue, ...]]]]


@dataclass(frozen=True)
class Row:
    metric: Metric
    files: tuple[str, ...]  # the cgroup files it is computed from
    value: Callable[[CgroupStats], Value | None] | None = None  # one point per cgroup
    split: Split | None = None  # several points per cgroup, by `keys`
    keys: tuple[str, ...] = ()
    pod_only: bool = False  # containers in a pod only (k8s.container.*)
    pods: bool = False  # a row of pods, not containers


def row(name: str, kind: Kind, unit: str, description: str, files: tuple[str, ...], *,
        value: Callable[[CgroupStats], Value | None] | None = None, split: Split | None = None,
        keys: tuple[str, ...] = (), on: bool = True, pod_only: bool = False) -> Row:
    pods = name.startswith("k8s.pod.")
    identity = POD_KEYS if pods else CONTAINER_KEYS
    return Row(Metric(name, kind, unit, description, (*identity, *keys), enabled=on), files,
               value, split, keys, pod_only, pods)


# --- what the files give ------------------------------------------------------------------

def _modes(st: CgroupStats, _dev: Device) -> Iterator[tuple[Value, tuple[AttrValue, ...]]]:
    cpu = st.cpu
    if cpu is not None and cpu.user_us is not None and cpu.system_us is not None:
        yield cpu.user_us / 1e6, ("user",)
        yield cpu.system_us / 1e6, ("system",)


def _usage(st: CgroupStats) -> Value | None:
    return None if st.cpu is None or st.cpu.usage_us is None else st.cpu.usage_us / 1e6


def _cpu(field: str, scale: int = 1) -> Callable[[CgroupStats], Value | None]:
    def value(st: CgroupStats) -> Value | None:
        v = None if st.cpu is None else getattr(st.cpu, field)
        return None if v is None else v * scale
    return value


def _available(st: CgroupStats) -> Value | None:
    ws = st.working_set
    return None if st.memory_max is None or ws is None else max(st.memory_max - ws, 0)


def _oom_kills(st: CgroupStats) -> Value | None:
    return None if st.memory_events is None else st.memory_events.get("oom_kill")


def _cpu_limit(st: CgroupStats) -> Value | None:
    return None if st.cpu_max is None else st.cpu_max.cpus


def _faults(st: CgroupStats, _dev: Device) -> Iterator[tuple[Value, tuple[AttrValue, ...]]]:
    faults = st.faults
    if faults is not None:
        yield faults[0], ("minor",)
        yield faults[1], ("major",)


def _io(read: str, write: str) -> Split:
    def split(st: CgroupStats, dev: Device) -> Iterator[tuple[Value, tuple[AttrValue, ...]]]:
        for number, io in (st.io or {}).items():
            name = dev(number)
            if name is not None:
                yield getattr(io, read), (name, "read")
                yield getattr(io, write), (name, "write")
    return split


def _stalls(resource: str) -> Split:
    def split(st: CgroupStats, _dev: Device) -> Iterator[tuple[Value, tuple[AttrValue, ...]]]:
        for kind, stall in st.pressure.get(resource, {}).items():
            yield stall.seconds, (kind,)
    return split


MEM, MEM_STAT = cs.MEMORY_CURRENT, cs.MEMORY_STAT
LIMITS_MAX_AGE = 60.0  # seconds: CPU and memory limits change only when a container is resized
WAITED = {"cpu": (cs.CPU_PRESSURE, "CPU"), "memory": (cs.MEMORY_PRESSURE, "memory"),
          "io": (cs.IO_PRESSURE, "I/O")}


def _common(p: str, what: str, on_pod: bool) -> list[Row]:
    """The rows containers (p = "container") and pods (p = "k8s.pod") share."""
    pod = p == "k8s.pod"
    return [
        row(f"{p}.memory.usage", U, "By", f"Memory charged to the {what}, page cache included",
            (MEM,), value=lambda st: st.memory_current),
        row(f"{p}.memory.working_set", U, "By", "Usage less inactive file pages, as the kubelet "
            "computes it (evictions, kubectl top)", (MEM, MEM_STAT),
            value=lambda st: st.working_set),
        row(f"{p}.memory.rss", U, "By", f"Anonymous memory of the {what}", (MEM_STAT,),
            value=lambda st: st.rss),
        row(f"{p}.memory.available", U, "By", "Memory left before the limit (only with one)",
            (cs.MEMORY_MAX, MEM, MEM_STAT), value=_available, on=False),
        row(f"{p}.paging.faults", C, "{fault}", f"Page faults in the {what}", (MEM_STAT,),
            split=_faults, keys=(FAULT,), on=False),
        row(f"{p}.disk.io", C, "By", "Bytes read and written, per disk", (cs.IO_STAT,),
            split=_io("rbytes", "wbytes"), keys=(DEV, DIR), on=False),
        row(f"{p}.disk.operations", C, "{operation}", "Read and write operations, per disk",
            (cs.IO_STAT,), split=_io("rios", "wios"), keys=(DEV, DIR), on=False),
        row(f"{p}.memory.oom_kills", C, "{kill}",
            "Processes the OOM killer ended in the pod, restarted containers' included" if pod
            else "Processes the OOM killer ended in the container", (cs.MEMORY_EVENTS,),
            value=_oom_kills),
        *(row(f"{p}.{r}.linux.pressure.total", C, "s",
              f"Time tasks of the {what} waited for {name}: some or full (all at once)",
              (file,), split=_stalls(r), keys=(STALL,), on=on_pod)
          for r, (file, name) in WAITED.items()),
    ]


ROWS: tuple[Row, ...] = (
    row("container.cpu.time", C, "s", "CPU seconds of the container by mode", (cs.CPU_STAT,),
        split=_modes, keys=(MODE,)),
    *_common("container", "container", on_pod=False),
    row("container.cpu.throttling_data.periods", C, "{periods}",
        "CFS enforcement periods with a CPU limit", (cs.CPU_STAT,), value=_cpu("nr_periods"),
        on=False),
    row("container.cpu.throttling_data.throttled_periods", C, "{periods}",
        "Periods in which the container hit its CPU limit", (cs.CPU_STAT,),
        value=_cpu("nr_throttled")),
    row("container.cpu.throttling_data.throttled_time", C, "ns",
        "Time the container was throttled at its CPU limit", (cs.CPU_STAT,),
        value=_cpu("throttled_us", 1000)),
    row("k8s.container.cpu.limit.current", U, "{cpu}", "The CPU limit of the container's "
        "cgroup (the kubelet's, applied)", (cs.CPU_MAX,), value=_cpu_limit, pod_only=True),
    row("k8s.container.memory.limit.current", U, "By", "The memory limit of the container's "
        "cgroup (the kubelet's, applied)", (cs.MEMORY_MAX,), value=lambda st: st.memory_max,
        pod_only=True),
    row("k8s.pod.cpu.time", C, "s", "CPU seconds of the pod, its sandbox included",
        (cs.CPU_STAT,), value=_usage),
    *_common("k8s.pod", "pod", on_pod=True),
    row("k8s.pod.cpu.throttling_data.throttled_time", C, "ns", "Time the pod was throttled at "
        "its CPU limit (every container limited)", (cs.CPU_STAT,),
        value=_cpu("throttled_us", 1000), on=False),
)


class ContainersSource(Source):
    name = "containers"
    metrics = tuple(r.metric for r in ROWS)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        c = ctx.config
        self._rows = {r.metric.name: r for r in ROWS}
        wanted = [r for r in ROWS if exported(replace(r.metric, source=self.name), c)]
        namespaces = NameFilter(tuple(c.namespaces_include), tuple(c.namespaces_exclude))

        def keep(namespace: str | None) -> bool:  # outside pods: kept unless a list names some
            return namespaces(namespace) if namespace is not None else not c.namespaces_include

        interval = max(c.source_intervals.get(self.name, c.interval), c.interval)
        self.node = Node(ctx.host.root, {f for r in wanted if r.pods for f in r.files},
                         {f for r in wanted if not r.pods for f in r.files}, keep,
                         limits_every=every_cycles(LIMITS_MAX_AGE, interval))
        self._disks = NameFilter(tuple(c.disks_include), tuple(c.disks_exclude))
        self._names = cs.DeviceNames(ctx.host.sys)

    @per_cycle
    def snapshot(self) -> Snapshot:
        return self.node.read()

    def _device(self, number: str) -> str | None:
        name = self._names(number)
        return name if self._disks(name) else None

    def _observer(self, r: Row) -> Observer:
        def entries() -> Read:
            snap = self.snapshot()
            return snap.pods if r.pods else snap.containers

        if r.split is not None:
            split = r.split

            def observe_split() -> Iterator[Obs]:
                for entry, st in entries():
                    for v, extra in split(st, self._device):
                        yield v, entry.variant(r.keys, extra)
            return observe_split
        value = r.value
        assert value is not None

        def observe() -> Iterator[Obs]:
            for entry, st in entries():
                if r.pod_only and not entry.in_pod:
                    continue
                v = value(st)
                if v is not None:
                    yield v, entry.attrs
        return observe

    def observers(self) -> dict[str, Observer]:
        return {name: self._observer(r) for name, r in self._rows.items()}

    def figures(self) -> Figures:
        snap: Snapshot | None = self.memo.peek("snapshot")
        return {"containers": {
            "cgroup": str(self.node.hierarchy.mode),
            "pods": None if snap is None else snap.found_pods,
            "containers": None if snap is None else snap.found_containers,
        }}

