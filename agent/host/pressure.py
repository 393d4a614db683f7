"""Pressure stall information (PSI): the host's /proc/pressure/* and a cgroup's *.pressure.

Both use one format, a line per stall type:

    some avg10=0.12 avg60=0.05 avg300=0.01 total=123456
    full avg10=0.00 avg60=0.00 avg300=0.00 total=7890

`total` is the stall time in microseconds since boot (or since the cgroup was made), the
counter to export; the averages are percentages the kernel smooths over 10, 60 and 300 s and
can be had as a rate of the counter.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from agent.config.files import read_bytes

RESOURCES = ("cpu", "memory", "io")
STALL_TYPES = ("some", "full")

_LINE = re.compile(
    rb"^(some|full) avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+) total=(\d+)", re.MULTILINE)

# PSI off (psi=0 on the kernel command line) or per cgroup (cgroup.pressure set to 0).
UNSUPPORTED = frozenset({errno.ENOENT, errno.EOPNOTSUPP, errno.ENOTSUP})


@dataclass(frozen=True, slots=True)
class Stall:
    """One line: the averages (percent of wall time) and the total stall time."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int

    @property
    def seconds(self) -> float:
        return self.total_us / 1e6


def parse(data: bytes) -> dict[str, Stall]:
    """{"some": Stall, "full": Stall}, with only the lines the file has."""
    return {m[0].decode(): Stall(float(m[1]), float(m[2]), float(m[3]), int(m[4]))
            for m in _LINE.findall(data)}


def read_host(proc: str) -> dict[str, dict[str, Stall]]:
    """/proc/pressure/{cpu,memory,io} by resource; {} where the kernel has no PSI.

    The host's `cpu full` line is left out: the kernel defines CPU full stalls for cgroups
    only, and prints the system-wide line (always zero) only for the format's sake."""
    out: dict[str, dict[str, Stall]] = {}
    for resource in RESOURCES:
        try:
            stalls = parse(read_bytes(f"{proc}/pressure/{resource}"))
        except OSError as exc:
            if exc.errno in UNSUPPORTED:
                continue
            raise
        if resource == "cpu":
            stalls.pop("full", None)
        out[resource] = stalls
    return out
