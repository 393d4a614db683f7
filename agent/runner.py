"""The long-running agent: `adk-agent run` validates its settings, then re-executes itself
here with the plain Config on an inherited pipe, so this process never imports pydantic."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from typing import Any

from agent import __version__
from agent.config.plain import Config

FD_VARIABLE = "_ADK_AGENT_CONFIG_FD"
HANDOFF_SIGNALS = {signal.SIGTERM, signal.SIGINT}
log = logging.getLogger("agent")


class StartError(Exception):
    """Start-up failed for a reason the user can fix (a port in use, a bad target)."""


def handoff(config: Config) -> int:
    """Replace this process with a pydantic-free one running `config` (same pid, so
    supervisors and signals are unaffected). Where exec cannot be used, run here."""
    data = config.to_json().encode()
    if os.name != "posix" or len(data) > 60_000:  # a pipe buffer holds this without a reader
        return run(config)
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    os.set_inheritable(read, True)
    env = dict(os.environ, **{FD_VARIABLE: str(read)})
    # A signal during the exec stays pending until the new process has its handlers.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDOFF_SIGNALS)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, "-m", "agent.runner"], env)
    except OSError:  # the interpreter cannot be re-executed here: run in this process
        os.close(read)
        return run(config)
    return 1  # not reached


def _name_process(name: str) -> None:
    """Show as adk-agent, not python, in ps/top and in process.executable.name."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def run(config: Config) -> int:
    from agent.logs import setup_logging

    setup_logging(config.log_level, config.log_format)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second signal: the user wants out now
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "pthread_sigmask"):  # not on Windows, where nothing was blocked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDOFF_SIGNALS)
    try:
        agent, health = _start(config)
    except StartError as exc:
        print(f"adk-agent: error: {exc}", file=sys.stderr)
        return 2
    log.info("adk-agent %s exporting %d metrics every %gs to %s", __version__,
             len(agent.bound), config.interval,
             config.endpoint if config.exporter == "otlp" else config.exporter)
    agent.collect_now()  # the first export now, not one interval after start
    # Everything alive now (modules, instruments, interned attributes) lives as long as the
    # agent: keep it out of every future garbage collection pass.
    gc.collect()
    gc.freeze()
    stop.wait()
    log.info("stopping: final export")
    agent.shutdown(timeout=config.shutdown_timeout)
    if health is not None:
        health.stop()
    return 0


def _start(config: Config) -> tuple[Any, Any]:
    from agent.pipeline import Agent

    try:
        agent = Agent(config)
    except (ValueError, OSError) as exc:
        raise StartError(str(exc).splitlines()[0]) from None
    health = None
    if config.health_address:
        from agent.health.server import HealthServer, all_interfaces

        try:
            health = HealthServer(agent, config.health_address)
        except OSError as exc:
            raise StartError(f"ADK_AGENT_HEALTH_ADDRESS = {config.health_address!r}: cannot "
                             f"listen: {exc.strerror or exc}") from None
        health.start()
        log.info("health endpoint on http://%s/health%s", config.health_address,
                 " (all interfaces: reachable from other hosts)"
                 if all_interfaces(config.health_address) else "")
    try:
        agent.start()
    except (ValueError, OSError) as exc:  # e.g. a TLS file that does not hold what it should
        raise StartError(str(exc).splitlines()[0]) from None
    return agent, health


def main() -> int:
    fd = int(os.environ.pop(FD_VARIABLE))
    with os.fdopen(fd) as f:
        config = Config.from_json(f.read())
    _name_process("adk-agent")
    return run(config)


if __name__ == "__main__":
    raise SystemExit(main())
