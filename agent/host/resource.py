"""The resource every point carries: service, host, OS, Kubernetes and version attributes."""

from __future__ import annotations

import logging
import os
import platform
import socket
import uuid

from agent import DISTRO_NAME, __version__
from agent.config.files import read_text
from agent.config.plain import Config
from agent.host.paths import HostFS

log = logging.getLogger("agent.host")

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm32", "armv6l": "arm32", "i386": "x86", "i686": "x86", "ppc64le": "ppc64",
         "ppc64": "ppc64", "s390x": "s390x"}
_K8S_ENV = {"K8S_NODE_NAME": "k8s.node.name", "K8S_POD_NAME": "k8s.pod.name",
            "K8S_NAMESPACE": "k8s.namespace.name", "K8S_POD_UID": "k8s.pod.uid"}
# The namespace the semantic conventions give for service.instance.id v5 UUIDs.
_INSTANCE_NS = uuid.UUID("4d63009a-8d0f-11ee-aad7-4c796ed8e320")


def _text(path: str) -> str | None:
    """A host file's text, or None when it is missing; one that is there but unusable (not
    UTF-8, a FIFO, unreadable) is named in one line and skipped, never a failed start."""
    try:
        return read_text(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        reason = f"{path}: {exc.strerror or exc}"
    except ValueError as exc:  # names the file already
        reason = str(exc)
    log.warning("%s; left out of the resource attributes", reason)
    return None


def _first_line(*paths: str) -> str | None:
    """The first line of the first of `paths` that has one, blank lines and `#` comments
    skipped (hostname(5): a cloud-init header is not the host's name)."""
    for path in paths:
        text = _text(path) or ""
        line = next((s for raw in text.splitlines() if (s := raw.strip())
                     and not s.startswith("#")), None)
        if line:
            return line
    return None


def _os_release(host: HostFS) -> str | None:
    for path in (host.path("etc/os-release"), host.path("usr/lib/os-release")):
        for line in (_text(path) or "").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return None


def host_attributes(host: HostFS) -> dict[str, str]:
    attrs: dict[str, str] = {}
    # Through a host root the container's own hostname is the pod's. The node's name from the
    # downward API is unique in the cluster (a static /etc/hostname such as
    # localhost.localdomain may not be); without it, the host's file.
    if host.contained:
        name = (os.environ.get("K8S_NODE_NAME", "").strip()
                or _first_line(host.path("etc/hostname")))
    else:
        name = socket.gethostname()
    if name:
        attrs["host.name"] = name
    machine_id = _first_line(host.path("etc/machine-id"), host.path("var/lib/dbus/machine-id"))
    if machine_id:
        attrs["host.id"] = machine_id
    arch = platform.machine().lower()
    attrs["host.arch"] = _ARCH.get(arch, arch)
    system = platform.system().lower()
    attrs["os.type"] = system
    pretty = _os_release(host) if system == "linux" else None
    kernel = f"{platform.system()} {platform.release()}"
    attrs["os.description"] = f"{pretty} ({kernel})" if pretty else kernel
    return attrs


def build_resource(config: Config, host: HostFS) -> dict[str, str]:
    # The agent makes its points itself (agent/export/series.py, encoding.py), not with the
    # OpenTelemetry SDK, whose name the conventions reserve: the SDK attributes name the agent.
    attrs: dict[str, str] = {
        "telemetry.sdk.name": DISTRO_NAME,
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
        "telemetry.distro.name": DISTRO_NAME,
        "telemetry.distro.version": __version__,
    }
    attrs.update(host_attributes(host))
    for var, key in _K8S_ENV.items():
        if value := os.environ.get(var, "").strip():
            attrs[key] = value
    attrs.update(config.resource_attributes)
    # An explicit service name wins over one in the resource attributes (as OTEL_SERVICE_NAME
    # does in the SDK); the default only fills a gap.
    if config.service_name_explicit or "service.name" not in attrs:
        attrs["service.name"] = config.service_name
    if config.service_version:
        attrs["service.version"] = config.service_version
    if config.git_commit:
        attrs["vcs.ref.head.revision"] = config.git_commit
    if "service.instance.id" not in attrs:
        # Stable across restarts of the same agent on the same host (or pod).
        seed = ":".join((attrs.get("host.id") or attrs.get("host.name", ""),
                         attrs.get("k8s.pod.uid", ""), attrs["service.name"]))
        attrs["service.instance.id"] = str(uuid.uuid5(_INSTANCE_NS, seed))
    return attrs
