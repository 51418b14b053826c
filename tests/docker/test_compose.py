"""docker/docker-compose.yml parses, and mlcatalog's services (the platform's instances) are configured with
variables mlcatalog reads: all the stack needs, secrets only from files, one PostgreSQL state, a store each, and a
project of the projects volume at /home/cdsw for projects written for CML."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.docker.mlcatalog_vars import (
    DOCKER,
    FILE_SUFFIX,
    ROOT,
    read_variables,
    secret_variables,
    setting_name,
)

#: What the stack needs mlcatalog pointed at: its Atlas, PostgreSQL for metrics and the platform's state (shared by
#: the instances), HiveServer2, S3, a bind address others reach (which needs the password), and an admin key that is
#: not printed into a container's log.
REQUIRED = ("MLCATALOG_HOST", "MLCATALOG_ATLAS_URL", "MLCATALOG_ATLAS_PASSWORD", "MLCATALOG_METRICS_URL",
            "MLCATALOG_STATE_URL", "MLCATALOG_HIVE_HOST", "MLCATALOG_S3_ENDPOINT", "MLCATALOG_S3_ACCESS_KEY_ID",
            "MLCATALOG_S3_SECRET_ACCESS_KEY", "MLCATALOG_ADMIN_KEY")
MLCATALOG_DOCKERFILE = "docker/Dockerfile"
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]+@")
SECRETS_DIR = PurePosixPath("/run/secrets")
#: Where a CML engine has the project, and where projects written for CML read their files.
CML_HOME = "/home/cdsw"
#: The variable naming the project the instances show at CML_HOME.
CML_PROJECT = "CML_PROJECT"
#: Compose's interpolation: ``${NAME}``, ``${NAME:-default}`` (unset or empty), ``${NAME-default}`` (unset).
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def _load() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load()


#: The platform's instances: the services running mlcatalog's image (built from docker/Dockerfile).
MLCATALOG_SERVICES = tuple(name for name, service in _load()["services"].items()
                           if service.get("build", {}).get("dockerfile") == MLCATALOG_DOCKERFILE)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # compose's other spelling: ["NAME=value", ...]
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_has_a_pinned_image_or_a_build(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image is not None or "build" in service, name
        if image is not None and "build" not in service:
            repo, _, tag = image.rpartition(":")
            assert repo and tag and tag != "latest", f"{name}: {image} is not pinned by a tag"


def test_the_stack_has_atlas_postgres_hive_and_s3(compose: dict[str, Any]) -> None:
    images = " ".join(str(s.get("image", "")) for s in compose["services"].values())
    for wanted in ("apache-atlas", "postgres", "hive", "seaweedfs"):
        assert wanted in images
    hive = {_environment(s).get("SERVICE_NAME") for s in compose["services"].values()}
    assert {"metastore", "hiveserver2"} <= hive


@pytest.mark.parametrize("service_name", MLCATALOG_SERVICES)
def test_mlcatalog_variables_are_ones_mlcatalog_reads(compose: dict[str, Any], service_name: str) -> None:
    env = _environment(compose["services"][service_name])
    ours = [name for name in env if name.startswith("MLCATALOG_")]
    assert ours
    unknown = sorted(name for name in ours if setting_name(name) not in read_variables())
    assert unknown == []


@pytest.mark.parametrize("service_name", MLCATALOG_SERVICES)
def test_mlcatalog_is_pointed_at_the_whole_stack(compose: dict[str, Any], service_name: str) -> None:
    given = {setting_name(name) for name in _environment(compose["services"][service_name])}
    assert sorted(set(REQUIRED) - given) == []


@pytest.mark.parametrize("service_name", MLCATALOG_SERVICES)
def test_secrets_come_from_files_never_values(compose: dict[str, Any], service_name: str) -> None:
    service = compose["services"][service_name]
    env = _environment(service)
    assert sorted(set(env) & secret_variables()) == [], "a secret given as a value, not a _FILE"
    assert [name for name, value in env.items() if URL_WITH_PASSWORD.search(value)] == []
    mounted = set(service.get("secrets", []))
    for name, value in env.items():
        if name.endswith(FILE_SUFFIX):
            path = PurePosixPath(value)
            assert path.parent == SECRETS_DIR and path.name in mounted, f"{name}={value} is no mounted secret"
            assert path.name in compose["secrets"]


def test_declared_secrets_are_files_or_environment(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        assert set(secret) & {"file", "environment"}, name
        if "file" in secret:
            assert PurePosixPath(secret["file"]).parts[0] == "secrets", name  # git-ignored: docker/.gitignore
    assert "secrets/" in (DOCKER / ".gitignore").read_text().split()


def test_no_service_bakes_in_a_password(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if re.search(r"PASSWORD|SECRET|_KEY$", key) and not key.endswith(("_FILE", "ACCESS_KEY_ID")):
                pytest.fail(f"{name}: {key} has a value in the compose file")
            assert not URL_WITH_PASSWORD.search(value), f"{name}: {key}"


def _secret_path(service: dict[str, Any], variable: str) -> PurePosixPath:
    """The mounted secret file a service's ``variable`` is read from (as ``variable``_FILE)."""
    value = _environment(service).get(variable + FILE_SUFFIX)
    assert value is not None, f"{variable} is not read from a secret file"
    return PurePosixPath(value)


def _readme_recipe(secret: str) -> str:
    """The value README "Production" has the reader write into docker/secrets/<secret>."""
    pattern = re.compile(rf'^echo "([^"]*)" > secrets/{re.escape(secret)}\s*$', re.MULTILINE)
    (value,) = pattern.findall((ROOT / "README.md").read_text())
    return str(value)


def _store_volume(service: dict[str, Any]) -> str:
    """The volume a service mounts at its MLCATALOG_STORE."""
    store = _environment(service)["MLCATALOG_STORE"]
    sources = []
    for volume in service.get("volumes", []):
        source, target = ((volume.get("source"), volume["target"]) if isinstance(volume, dict)
                          else volume.split(":")[:2])
        if target == store:
            sources.append(source)
    (source,) = sources
    return str(source)


def test_the_platform_is_two_instances_of_one_configuration(compose: dict[str, Any]) -> None:
    assert len(MLCATALOG_SERVICES) == 2
    first, second = (compose["services"][name] for name in MLCATALOG_SERVICES)
    assert _environment(first) == _environment(second)
    assert first["image"] == second["image"]
    published = [p.split(":")[0] for name in MLCATALOG_SERVICES for p in compose["services"][name].get("ports", [])]
    assert len(published) == len(set(published)), "two instances on one host port"


@pytest.mark.parametrize("service_name", MLCATALOG_SERVICES)
def test_the_state_is_on_the_stacks_postgresql(compose: dict[str, Any], service_name: str) -> None:
    """Every instance reads MLCATALOG_STATE_URL from a secret README has the reader fill with a postgresql:// URL of
    the compose PostgreSQL (its user, its database), which the instance waits for."""
    service = compose["services"][service_name]
    path = _secret_path(service, "MLCATALOG_STATE_URL")
    assert compose["secrets"][path.name]["file"] == f"./secrets/{path.name}"
    url = urlsplit(re.sub(r"\$\([^)]*\)", "password", _readme_recipe(path.name)))  # $(cat ...): the password
    assert url.scheme == "postgresql" and url.hostname is not None
    postgres = compose["services"][url.hostname]
    assert str(postgres["image"]).startswith("postgres:")
    env = _environment(postgres)
    assert (url.username, url.port, url.path) == (env["POSTGRES_USER"], 5432, "/" + env["POSTGRES_DB"])
    assert service["depends_on"][url.hostname] == {"condition": "service_healthy"}


def test_the_instances_do_not_share_a_store(compose: dict[str, Any]) -> None:
    stores = [_store_volume(compose["services"][name]) for name in MLCATALOG_SERVICES]
    assert len(set(stores)) == len(stores), stores
    assert all(store in compose["volumes"] for store in stores), "a store is a named volume, not a host directory"
    mounts = Counter(str(v.get("source") if isinstance(v, dict) else v.split(":")[0])
                     for service in compose["services"].values() for v in service.get("volumes", []))
    assert [store for store in stores if mounts[store] != 1] == [], "a store mounted by another service too"


def _interpolate(value: str, environ: dict[str, str]) -> str:
    """``value`` as compose reads it with ``environ`` set; a variable that is unset and has no default fails (compose
    warns and reads it as empty)."""
    def one(match: re.Match[str]) -> str:
        name, op, default = match["name"], match["op"], match["default"]
        if op is None:
            assert name in environ, f"${{{name}}} is unset and has no default"
            return environ[name]
        given = environ.get(name)
        return default if given is None or (op == ":-" and given == "") else given
    return INTERPOLATION.sub(one, value)


def _mount(volume: str | dict[str, Any]) -> dict[str, Any]:
    """A service's volume in compose's long syntax (a short ``source:target[:mode]`` made long)."""
    if isinstance(volume, dict):
        return volume
    source, target, *mode = volume.split(":")
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return {"type": kind, "source": source, "target": target, "read_only": mode == ["ro"]}


@pytest.mark.parametrize("service_name", MLCATALOG_SERVICES)
def test_a_project_of_the_projects_volume_is_at_home_cdsw(compose: dict[str, Any], service_name: str) -> None:
    """Projects written for CML read /home/cdsw: each instance shows there, read-only, the project of its projects
    volume that CML_PROJECT names; unset, the whole volume (no subpath that must exist: the stack starts as before)."""
    service = compose["services"][service_name]
    mounts = [_mount(v) for v in service["volumes"]]
    root = _environment(service)["MLCATALOG_PROJECTS_ROOT"]
    (projects,) = [m["source"] for m in mounts if m["target"] == root]
    (home,) = [m for m in mounts if m["target"] == CML_HOME]
    assert (home["type"], home["source"], home["read_only"]) == ("volume", projects, True)
    assert projects in compose["volumes"]
    subpath = str(home.get("volume", {}).get("subpath", ""))
    assert _interpolate(subpath, {}) == ""
    assert _interpolate(subpath, {CML_PROJECT: "wine"}) == "wine"
