"""docker/k8s/: every manifest validates against Kubernetes' own schemas (offline, kubernetes-validate), sets only
variables mlcatalog reads, keeps secrets in Secrets, and the model deployment is what its deploy command asks."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from mlcatalog.health import LIVE_PATH, READY_PATH
from tests.docker.mlcatalog_vars import DOCKER, read_variables, secret_variables

K8S = DOCKER / "k8s"
KUBERNETES_VERSION = "1.37.0"
MANIFESTS = sorted(K8S.glob("*.yaml"))
DEPLOY_ANNOTATION = "mlcatalog/deploy-command"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in _documents(path)]


def _of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _containers(resources: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deployment in _of_kind(resources, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield name, container


def _env_names(resources: list[dict[str, Any]], container: dict[str, Any]) -> set[str]:
    """The container's environment: its own env entries and every key of the ConfigMaps and Secrets in envFrom."""
    names = {e["name"] for e in container.get("env", [])}
    maps, secrets = _of_kind(resources, "ConfigMap"), _of_kind(resources, "Secret")
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(maps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            names |= set(secrets[source["secretRef"]["name"]]["stringData"])
    return names


def test_there_are_manifests() -> None:
    assert {p.name for p in MANIFESTS} >= {"platform.yaml", "model-deployment.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for resource in _documents(path):
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_a_wrong_manifest_is_refused() -> None:
    """The validation is not vacuous: a field Kubernetes does not have fails it."""
    deployment = next(d for d in _documents(K8S / "platform.yaml") if d["kind"] == "Deployment")
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_mlcatalog_variables_are_ones_mlcatalog_reads(resources: list[dict[str, Any]]) -> None:
    for name, container in _containers(resources):
        ours = {n for n in _env_names(resources, container) if n.startswith("MLCATALOG_")}
        assert ours, name
        assert sorted(ours - read_variables()) == [], name


def test_secret_settings_are_only_in_secrets(resources: list[dict[str, Any]]) -> None:
    for name, config in _of_kind(resources, "ConfigMap").items():
        assert sorted(set(config["data"]) & secret_variables()) == [], name
    for name, container in _containers(resources):
        literal = {e["name"] for e in container.get("env", []) if "value" in e}
        assert sorted(literal & secret_variables()) == [], name
    for name, secret in _of_kind(resources, "Secret").items():  # placeholders only
        assert all("REPLACE_ME" in value for value in secret["stringData"].values()), name


def test_the_platform_is_two_instances_on_postgresql_state(resources: list[dict[str, Any]]) -> None:
    """Two instances share their state and metrics on PostgreSQL (one platform), each with a store directory of its
    own; a rollout adds a new pod before it takes an old one away, and a disruption leaves one serving."""
    platform = _of_kind(resources, "Deployment")["mlcatalog"]
    labels = platform["spec"]["template"]["metadata"]["labels"]
    assert platform["spec"]["replicas"] == 2
    strategy = platform["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0
    secret = _of_kind(resources, "Secret")["mlcatalog-secrets"]["stringData"]
    for url in ("MLCATALOG_STATE_URL", "MLCATALOG_METRICS_URL"):
        assert secret[url].startswith("postgresql://"), url
    (container,) = platform["spec"]["template"]["spec"]["containers"]
    config: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            config |= _of_kind(resources, "ConfigMap")[source["configMapRef"]["name"]]["data"]
    (store,) = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == config["MLCATALOG_STORE"]]
    volumes = {v["name"]: v for v in platform["spec"]["template"]["spec"]["volumes"]}
    assert set(volumes[store]) == {"name", "emptyDir"}  # the pod's own, never a claim the instances share
    (budget,) = [b for b in _of_kind(resources, "PodDisruptionBudget").values()
                 if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    assert 1 <= budget["spec"]["minAvailable"] < platform["spec"]["replicas"]  # a drain can still move one
    service = _of_kind(resources, "Service")["mlcatalog"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_every_deployment_has_probes_and_a_disruption_budget(resources: list[dict[str, Any]]) -> None:
    budgets = _of_kind(resources, "PodDisruptionBudget").values()
    for name, deployment in _of_kind(resources, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets), name
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, name


def _deploy_flags(deployment: dict[str, Any]) -> dict[str, list[str]]:
    words = shlex.split(deployment["metadata"]["annotations"][DEPLOY_ANNOTATION])
    assert words[:2] == ["mlcatalog", "deploy"]
    flags: dict[str, list[str]] = {}
    for flag, value in zip(words[2::2], words[3::2], strict=True):
        flags.setdefault(flag, []).append(value)
    return flags


def test_model_deployment_is_what_its_deploy_command_asks(resources: list[dict[str, Any]]) -> None:
    deployment = _of_kind(resources, "Deployment")["wine-predict"]
    flags = _deploy_flags(deployment)
    spec = deployment["spec"]["template"]["spec"]
    (replica,) = spec["containers"]
    assert deployment["spec"]["replicas"] == int(flags["--replicas"][0])
    wanted = {"cpu": f"{flags['--cpu-millicores'][0]}m", "memory": f"{flags['--memory-mb'][0]}Mi"}
    assert replica["resources"]["requests"] == wanted == replica["resources"]["limits"]
    declared = dict(pair.split("=", 1) for pair in flags["--env"])
    (source,) = replica["envFrom"]
    assert _of_kind(resources, "ConfigMap")[source["configMapRef"]["name"]]["data"] == declared


def test_replica_probes_ask_the_socket_its_configuration_binds(resources: list[dict[str, Any]]) -> None:
    (replica,) = _of_kind(resources, "Deployment")["wine-predict"]["spec"]["template"]["spec"]["containers"]
    (config_env,) = replica["env"]
    ref = config_env["valueFrom"]["secretKeyRef"]
    config = json.loads(_of_kind(resources, "Secret")[ref["name"]]["stringData"][ref["key"]])
    for probe in ("readinessProbe", "livenessProbe"):
        command = replica[probe]["exec"]["command"]
        assert command[-1] == config["socket"]
        assert Path(command[-2]).name in {p.name for p in DOCKER.glob("*.py")}
    assert any(Path(config["socket"]).parent == Path(m["mountPath"]) for m in replica["volumeMounts"])


def test_platform_probes_ask_its_own_health_endpoints(resources: list[dict[str, Any]]) -> None:
    """Readiness is mlcatalog's /readyz (its stores and its Atlas), liveness its /healthz (the process answers: an
    outage of PostgreSQL or Atlas is no reason to restart it), both on the port the Service sends traffic to."""
    (platform,) = _of_kind(resources, "Deployment")["mlcatalog"]["spec"]["template"]["spec"]["containers"]
    ports = {p["name"] for p in platform["ports"]}
    assert platform["readinessProbe"]["httpGet"]["path"] == READY_PATH
    assert platform["livenessProbe"]["httpGet"]["path"] == LIVE_PATH
    assert {platform[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")} <= ports
    assert all(platform[p]["timeoutSeconds"] >= 5 for p in ("readinessProbe", "livenessProbe"))
