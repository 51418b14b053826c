"""docker/k8s/: every manifest validates against Kubernetes' own schemas (offline, kubernetes-validate), sets only
variables mlcatalog reads, keeps secrets in Secrets, and the model deployment is what its deploy command asks, its
replicas running their build's commit at /home/cdsw with the variables of a CML engine."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from mlcatalog.health import LIVE_PATH, READY_PATH
from serving.platform.service import RESERVED_ENV, RESERVED_ENV_PREFIXES
from serving.replica import REPLICA_CONFIG_ENV
from tests.docker.mlcatalog_vars import DOCKER, ROOT, read_variables, secret_variables

K8S = DOCKER / "k8s"
KUBERNETES_VERSION = "1.37.0"
MANIFESTS = sorted(K8S.glob("*.yaml"))
DEPLOY_ANNOTATION = "mlcatalog/deploy-command"
#: Where a CML engine has the project, and where projects written for CML read their files.
CML_HOME = "/home/cdsw"
#: What a CML engine sets for the project's code (CML's names, not mlcatalog's): the platform sets them for its
#: replicas, and the manifest for its own.
CML_ENGINE_VARIABLES = ("CDSW_PROJECT", "CDSW_PROJECT_ID", "CDSW_ENGINE_ID", "CDSW_CPU_MILLICORES", "CDSW_MEMORY_MB",
                        "CDSW_DOMAIN", "CDSW_IP_ADDRESS")
TIMEOUT_S = 60


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


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's own env entries by name."""
    return {e["name"]: e for e in container.get("env", [])}


def _replica_config(resources: list[dict[str, Any]], replica: dict[str, Any]) -> dict[str, Any]:
    """The replica's configuration, from the Secret its MLCATALOG_REPLICA_CONFIG names."""
    ref = _env(replica)[REPLICA_CONFIG_ENV]["valueFrom"]["secretKeyRef"]
    config: dict[str, Any] = json.loads(_of_kind(resources, "Secret")[ref["name"]]["stringData"][ref["key"]])
    return config


def _reserved(name: str) -> bool:
    """Set by the platform for its replicas: a deployment's --env cannot name it (serving/platform/service.py)."""
    return name.upper().startswith(RESERVED_ENV_PREFIXES) or name.upper() in RESERVED_ENV


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
    config = _replica_config(resources, replica)
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


def _exporter(spec: dict[str, Any], volume: str) -> dict[str, Any]:
    """The init container that fills ``volume``."""
    exporters: list[dict[str, Any]] = [c for c in spec.get("initContainers", [])
                                       if any(m["name"] == volume for m in c.get("volumeMounts", []))]
    (exporter,) = exporters
    return exporter


def test_replicas_run_their_builds_commit_at_home_cdsw(resources: list[dict[str, Any]]) -> None:
    """/home/cdsw is the pod's own volume, which an init container fills with the build's export of the project the
    deploy command names (read-only from the platform's projects claim): the replica's working directory, HOME and
    project directory. The replica does not mount the projects: it serves the build, never the working tree."""
    deployment = _of_kind(resources, "Deployment")["wine-predict"]
    spec = deployment["spec"]["template"]["spec"]
    (replica,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert replica["workingDir"] == CML_HOME == _env(replica)["HOME"]["value"]
    assert _replica_config(resources, replica)["project_dir"] == CML_HOME
    (home,) = [m for m in replica["volumeMounts"] if m["mountPath"] == CML_HOME]
    assert set(volumes[home["name"]]) == {"name", "emptyDir"} and not home.get("readOnly", False)  # writable, as CML's
    assert not any("persistentVolumeClaim" in volumes[m["name"]] for m in replica["volumeMounts"])

    exporter = _exporter(spec, home["name"])
    (target,) = [m for m in exporter["volumeMounts"] if m["name"] == home["name"]]
    exporter_env = {name: e["value"] for name, e in _env(exporter).items()}
    assert PurePosixPath(exporter_env["EXPORT_TO"]) == PurePosixPath(target["mountPath"]) / home["subPath"]
    assert exporter["image"] == replica["image"]  # the platform's own export (serving/platform/snapshot.py)
    assert exporter["resources"] == replica["resources"]  # the pod asks for what the deploy asks, no more

    platform_config = _of_kind(resources, "ConfigMap")["mlcatalog-config"]["data"]
    root = PurePosixPath(platform_config["MLCATALOG_PROJECTS_ROOT"])
    assert PurePosixPath(exporter_env["PROJECT_DIR"]) == root / _deploy_flags(deployment)["--project-dir"][0]
    (projects,) = [m for m in exporter["volumeMounts"] if PurePosixPath(m["mountPath"]) == root]
    assert projects["readOnly"] is True
    claim = volumes[projects["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim in _of_kind(resources, "PersistentVolumeClaim")  # the platform's projects


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=ds", "-c", "user.email=ds@example.com", *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    return done.stdout.strip()


def _run_exporter(exporter: dict[str, Any], project: Path, commit: str, home: Path) -> None:
    """The init container's command, on this machine: ``python`` is this interpreter, mlcatalog this checkout."""
    args = exporter.get("command", []) + exporter["args"]
    assert args[0] == "python", args
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env |= {"PYTHONPATH": str(ROOT), "PROJECT_DIR": str(project), "BUILD_COMMIT": commit, "EXPORT_TO": str(home)}
    done = subprocess.run([sys.executable, *args[1:]], env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("subdirectory", ["", "models/wine"], ids=["repository", "subdirectory"])
def test_the_init_container_exports_the_builds_commit(resources: list[dict[str, Any]], tmp_path: Path,
                                                      subdirectory: str) -> None:
    """What the init container leaves where the replica's /home/cdsw is: the project's directory at the commit,
    with an untracked trained model (CML's project has it), without an edit made after the commit; a pod started
    again keeps what it exported, a model retrained since included."""
    spec = _of_kind(resources, "Deployment")["wine-predict"]["spec"]["template"]["spec"]
    (replica,) = spec["containers"]
    (home_mount,) = [m for m in replica["volumeMounts"] if m["mountPath"] == CML_HOME]
    exporter = _exporter(spec, home_mount["name"])
    repo = tmp_path / "repo"
    project = repo / subdirectory
    (project / "models" / "spark").mkdir(parents=True)
    (project / "model.py").write_text("THRESHOLD = 1\n")
    (repo / "README").write_text("the repository\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "model")
    commit = _git(repo, "rev-parse", "HEAD")
    (project / "models" / "spark" / "part-00000").write_text("trained")  # never committed, as in the seed
    (project / "model.py").write_text("THRESHOLD = 2\n")

    home = tmp_path / "volume" / "home"
    _run_exporter(exporter, project, commit, home)
    assert (home / "model.py").read_text() == "THRESHOLD = 1\n"
    assert (home / "models" / "spark" / "part-00000").read_text() == "trained"
    assert not (home / ".git").exists()
    assert (home / "README").exists() == (subdirectory == "")  # the project's directory, not its repository's

    (project / "models" / "spark" / "part-00000").write_text("retrained")
    _run_exporter(exporter, project, commit, home)
    assert (home / "models" / "spark" / "part-00000").read_text() == "trained"


def test_replicas_have_a_cml_engines_variables(resources: list[dict[str, Any]]) -> None:
    """Each variable a CML engine sets is in the replica's own env, as the platform sets it for its replicas: the
    project's name, the replica's pod, address and resources (the very limits the deploy command asks for), where the
    platform is reached. Besides its configuration it sets nothing a deployment could (those are the ConfigMap)."""
    deployment = _of_kind(resources, "Deployment")["wine-predict"]
    (replica,) = deployment["spec"]["template"]["spec"]["containers"]
    env = _env(replica)
    assert sorted(set(CML_ENGINE_VARIABLES) - set(env)) == []
    assert sorted(name for name in env if name != REPLICA_CONFIG_ENV and not _reserved(name)) == []
    flags = _deploy_flags(deployment)
    assert not any(_reserved(pair.split("=", 1)[0]) for pair in flags["--env"])
    assert env["CDSW_PROJECT"]["value"] == PurePosixPath(flags["--project-dir"][0]).name
    assert env["CDSW_ENGINE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["CDSW_IP_ADDRESS"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["CDSW_CPU_MILLICORES"]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.cpu", "divisor": "1m"}
    assert env["CDSW_MEMORY_MB"]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.memory", "divisor": "1Mi"}
    public_url = _of_kind(resources, "ConfigMap")["mlcatalog-config"]["data"]["MLCATALOG_PUBLIC_URL"]
    assert env["CDSW_DOMAIN"]["value"] == urlsplit(public_url).netloc
