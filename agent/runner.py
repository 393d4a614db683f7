"""The long-running agent: `adk-agent run` validates its settings, then re-executes itself
here with the plain Config on an inherited pipe, so this process never imports pydantic.

Signals: SIGTERM and SIGINT stop it (a final export, exit 0; a second one exits at once), from
the moment `run` is chosen on the command line - one that comes while the settings load waits
for the runner. SIGHUP reloads: the configuration (flags, the config file, the headers file;
the environment is the process's own and does not change) is checked in a child `adk-agent
check`; if it is valid the agent stops as for SIGTERM (final export, queue drained or kept in
ADK_AGENT_QUEUE_DIR) and executes `adk-agent run` again in the same process, else it keeps
running as it is and logs why. SIGUSR1, SIGUSR2 and SIGALRM mean nothing here and are ignored
(their default action would kill the agent without a final export).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from agent import __version__
from agent.config.endpoint import shown
from agent.config.plain import Config

FD_VARIABLE = "_ADK_AGENT_CONFIG_FD"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HANDOFF_SIGNALS = {signal.SIGTERM, signal.SIGINT, *(
    (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())}
IGNORED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGUSR1", "SIGUSR2", "SIGALRM")
                        if hasattr(signal, name))
# The settings read these; the config travels through the pipe, so the runner drops them from
# its environment (compared without case: the ADK_AGENT_ ones are read so).
SECRET_VARIABLES = ("ADK_AGENT_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
                    "OTEL_EXPORTER_OTLP_METRICS_HEADERS")
log = logging.getLogger("agent")
_early: list[int] = []  # a stop signal that came before the runner took over


class StartError(Exception):
    """Start-up failed for a reason the user can fix (a port in use, a bad target)."""


@dataclass
class Restart:
    """What SIGHUP needs to check and start the configuration again: the command line's
    flags and the secret variables the runner no longer has in its environment."""

    flags: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != FD_VARIABLE}
        env.update(self.secrets)
        return env

    def check(self) -> str | None:
        """None when the configuration as it is now is valid, else the reason in one line."""
        try:
            done = subprocess.run([sys.executable, "-m", "agent", "check", *self.flags],
                                  env=self.environment(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run the check: {exc}"
        if done.returncode == 0:
            return None
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return (lines[-1].removeprefix("adk-agent: error: ") if lines
                else f"the check exited with status {done.returncode}")

    def exec(self) -> None:
        """Become `adk-agent run` again (same pid); returns only if that cannot be done."""
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDOFF_SIGNALS)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execve(sys.executable, [sys.executable, "-m", "agent", "run", *self.flags],
                      self.environment())
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDOFF_SIGNALS)
            log.error("cannot restart for SIGHUP: %s", exc.strerror or exc)


def early_signals() -> None:
    """Called as soon as `run` is chosen, before the settings load: a stop signal now is kept
    for the runner instead of killing the process with status 143."""
    if os.name != "posix":
        return

    def on_signal(signum: int, _frame: object) -> None:
        if _early:  # a second signal: the user wants out now
            os._exit(128 + signum)
        _early.append(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the settings are being read right now
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def handoff(config: Config, restart: Restart | None = None) -> int:
    """Replace this process with a pydantic-free one running `config` (same pid, so
    supervisors and signals are unaffected). Where exec cannot be used, run here."""
    restart = restart or Restart()
    env = {k: v for k, v in os.environ.items() if k.upper() not in SECRET_VARIABLES}
    restart.secrets = {k: v for k, v in os.environ.items() if k.upper() in SECRET_VARIABLES}
    data = json.dumps({"config": json.loads(config.to_json()), "flags": restart.flags,
                       "secrets": restart.secrets}).encode()
    if os.name != "posix" or len(data) > 60_000:  # a pipe buffer holds this without a reader
        for name in restart.secrets:
            del os.environ[name]
        return run(config, restart)
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    os.set_inheritable(read, True)
    env[FD_VARIABLE] = str(read)
    # A signal during the exec stays pending until the new process has its handlers; one
    # that came while the settings loaded is raised again, to be pending the same way.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDOFF_SIGNALS)
    for signum in _early:
        os.kill(os.getpid(), signum)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, "-m", "agent.runner"], env)
    except OSError:  # the interpreter cannot be re-executed here: run in this process
        os.close(read)
        return run(config, restart)
    return 1  # not reached


def _name_process(name: str) -> None:
    """Show as adk-agent, not python, in ps/top and the adk_ catalog's process name
    (process.executable.name stays the interpreter's, as the conventions define it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


class Signals:
    """Stop and reload requests from signal handlers to the main thread."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.reload = threading.Event()

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_reload)
        for sig in IGNORED_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if _early:  # in this process already (run without the exec)
            self._on_stop(_early[0], None)
        if hasattr(signal, "pthread_sigmask"):  # not on Windows, where nothing was blocked
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDOFF_SIGNALS)

    def _on_stop(self, signum: int, _frame: object) -> None:
        if self.stop.is_set():  # a second signal: the user wants out now
            os._exit(128 + signum)
        self.stop.set()
        self.wake.set()

    def _on_reload(self, _signum: int, _frame: object) -> None:
        self.reload.set()
        self.wake.set()

    def next(self, restart: Restart) -> bool:
        """Wait for a stop (False) or a valid reload (True)."""
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stop.is_set():
                return False
            if self.reload.is_set():
                self.reload.clear()
                log.info("SIGHUP: checking the configuration")
                problem = restart.check()
                if self.stop.is_set():
                    return False
                if problem is None:
                    log.info("SIGHUP: the configuration is valid; restarting with it")
                    return True
                log.error("SIGHUP: the configuration is not valid, the agent keeps running as "
                          "it is: %s", problem)


def run(config: Config, restart: Restart | None = None) -> int:
    from agent.logs import setup_logging

    setup_logging(config.log_level, config.log_format)
    signals = Signals()
    signals.install()
    try:
        agent, health = _start(config)
    except StartError as exc:
        print(f"adk-agent: error: {exc}", file=sys.stderr)
        return 2
    log.info("adk-agent %s exporting %d metrics every %gs to %s", __version__,
             len(agent.bound), config.interval,
             shown(config.endpoint) if config.exporter == "otlp" else config.exporter)
    agent.collect_now()  # the first export now, not one interval after start
    # Everything alive now (modules, instruments, interned attributes) lives as long as the
    # agent: keep it out of every future garbage collection pass.
    gc.collect()
    gc.freeze()
    reloading = signals.next(restart or Restart())
    log.info("stopping: final export")
    agent.shutdown(timeout=config.shutdown_timeout)
    if health is not None:
        health.stop()
    if reloading and not signals.stop.is_set():
        (restart or Restart()).exec()
        return 1  # the restart failed: a supervisor starts the agent afresh
    return 0


def raise_fd_limit() -> None:
    """The soft limit of open descriptors up to the hard one, as Go's runtime does for the
    collector: a node's cgroup files are kept open from cycle to cycle within a share of it
    (agent/host/cgroupfiles.py), and 1,024 is the soft limit systemd and containerd 2 give."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, OSError, ValueError) as exc:
        log.debug("RLIMIT_NOFILE left as it is: %s", exc)


def _start(config: Config) -> tuple[Any, Any]:
    from agent.pipeline import Agent

    raise_fd_limit()
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
        data = json.loads(f.read())
    config = Config.from_json(json.dumps(data["config"]))
    _name_process("adk-agent")
    return run(config, Restart(data.get("flags", []), data.get("secrets", {})))


if __name__ == "__main__":
    raise SystemExit(main())
