"""system: host uptime, and the legacy catalog's version-tag info metric."""

from __future__ import annotations

from collections.abc import Iterator

from agent.sources.base import NO_ATTRS, Context, Kind, Metric, Obs, Observer, Schema, Source

G, A = Kind.GAUGE, Schema.ADK


class SystemSource(Source):
    name = "system"
    metrics = (
        Metric("system.uptime", G, "s", "Seconds since the host booted"),
        Metric("adk_system_uptime_seconds", G, "s", "Seconds since the host booted", schema=A),
        Metric("adk_app_info", G, "1", "Always 1; carries the version tags",
               ("version", "git_commit"), schema=A),
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._info = {"version": ctx.config.service_version or "",
                      "git_commit": ctx.config.git_commit or ""}

    def _uptime(self) -> Iterator[Obs]:
        # /proc/uptime to the hundredth of a second: btime is whole seconds (up to 1 s high)
        yield self.read.uptime(), NO_ATTRS

    def observers(self) -> dict[str, Observer]:
        return {
            "system.uptime": self._uptime,
            "adk_system_uptime_seconds": self._uptime,
            "adk_app_info": lambda: [(1, self._info)],
        }
