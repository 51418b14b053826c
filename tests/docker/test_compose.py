"""docker/docker-compose.yml parses, and mlcatalog's service is configured with variables mlcatalog reads: all the
stack needs, secrets only from files."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from tests.docker.mlcatalog_vars import (
    DOCKER,
    FILE_SUFFIX,
    read_variables,
    secret_variables,
    setting_name,
)

#: What the stack needs mlcatalog pointed at: its Atlas, PostgreSQL for metrics, HiveServer2, S3, a bind
#: address others reach (which needs the password), and an admin key that is not printed into a container's log.
REQUIRED = ("MLCATALOG_HOST", "MLCATALOG_ATLAS_URL", "MLCATALOG_ATLAS_PASSWORD", "MLCATALOG_METRICS_URL",
            "MLCATALOG_HIVE_HOST", "MLCATALOG_S3_ENDPOINT", "MLCATALOG_S3_ACCESS_KEY_ID",
            "MLCATALOG_S3_SECRET_ACCESS_KEY", "MLCATALOG_ADMIN_KEY")
MLCATALOG_SERVICES = ("mlcatalog",)
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]+@")
SECRETS_DIR = PurePosixPath("/run/secrets")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


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
