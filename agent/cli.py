"""Command line: `run` (default), `once`, `check`, `--version`. Thin: the work is elsewhere."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, NoReturn

from agent import __version__

PROG = "adk-agent"
EXIT_CONFIG = 2

# Flags and the settings they set; each beats every other source of that setting.
FLAGS: dict[str, tuple[str, str]] = {
    "--config": ("config", "YAML or TOML config file"),
    "--endpoint": ("endpoint", "collector URL, e.g. http://localhost:4317"),
    "--protocol": ("protocol", "grpc or http/protobuf"),
    "--interval": ("interval", "collection and export interval, e.g. 10s"),
    "--exporter": ("exporter", "otlp, console or none"),
    "--root-path": ("root_path", "where the host's / is mounted, e.g. /hostfs"),
    "--service-name": ("service_name", "service.name resource attribute"),
    "--health-address": ("health_address", "host:port of the health endpoint ('' disables)"),
    "--log-level": ("log_level", "debug, info, warning or error"),
    "--log-format": ("log_format", "text or json"),
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + line
        self.exit(EXIT_CONFIG, f"{PROG}: error: {message} (see {PROG} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for flag, (dest, text) in FLAGS.items():
        common.add_argument(flag, dest=dest, help=text, default=argparse.SUPPRESS)
    parser = Parser(prog=PROG, parents=[common],
                    description="Host and process metrics pushed over OTLP.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    sub.add_parser("run", parents=[common], help="collect and export until stopped (default)")
    once = sub.add_parser("once", parents=[common], help="collect once, print, export nothing")
    once.add_argument("--format", choices=("text", "json"), default="text")
    check = sub.add_parser("check", parents=[common],
                           help="validate and print the effective settings and their origin")
    check.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `adk-agent once | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {dest: getattr(args, dest) for dest, _ in FLAGS.values() if hasattr(args, dest)}
    command = args.command or "run"
    if command == "run":  # a SIGTERM while the settings load waits for the runner
        from agent.runner import early_signals

        early_signals()
    from agent.settings import ConfigError, load_settings

    try:
        settings = load_settings(**flags)
    except ConfigError as exc:
        return _fail(str(exc))
    if command == "check":
        return check(settings, flags, args.format)
    if command == "once":
        from agent.logs import setup_logging

        setup_logging(settings.log_level, settings.log_format)
        return once(settings, args.format)
    from agent.runner import Restart, handoff

    # SIGHUP starts `run` again with the same flags
    again = [arg for flag, (dest, _) in FLAGS.items() if dest in flags
             for arg in (flag, str(flags[dest]))]
    return handoff(settings.to_config(), Restart(again))


def check(settings: Any, flags: dict[str, Any], fmt: str) -> int:
    from agent import present
    from agent.catalog import select
    from agent.settings import ConfigError
    from agent.settings.load import DURATIONS, file_keys
    from agent.settings.origin import origins

    values = settings.redacted()
    file = str(settings.config) if settings.config else None
    try:
        keys = file_keys(file)
    except ConfigError as exc:  # already read once: only a file changed meanwhile
        return _fail(str(exc))
    source = origins(list(values), flags, file, keys)
    if settings.endpoint is None:  # the protocol's default port and path
        source["endpoint"] = f"default for {settings.protocol}"
    enabled = len(select(settings.to_config()))
    if fmt == "json":
        print(json.dumps({"settings": values, "from": source}, indent=2, default=str))
        print(f"{enabled} metrics enabled", file=sys.stderr)
        return 0
    for line in present.settings(values, source, DURATIONS):
        print(line)
    print(f"\nThe configuration is valid: {enabled} metrics enabled from "
          f"{len(settings.sources)} sources. Header values are never shown.")
    return 0


def once(settings: Any, fmt: str) -> int:
    from agent.pipeline import Agent

    try:
        # the points as a cumulative export would carry them (a delta needs two intervals)
        agent = Agent(settings.to_config().replace(exporter="none", temporality="cumulative"))
    except (ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0])
    agent.collect()  # primes the figures that are rates over a cycle (utilization)
    time.sleep(0.5)
    result = agent.points()
    if fmt == "json":
        out = [{"name": m.name, "kind": str(m.kind), "unit": m.unit,
                "points": [{"attributes": dict(p.attrs), "value": p.value} for p in points]}
               for m, points in result]
        print(json.dumps({"metrics": out}, indent=1))
        return 0
    from agent import present

    for line in present.points((m.name, m.unit, [(p.value, p.attrs) for p in points])
                               for m, points in result):
        print(line)
    return 0
