"""Fixtures for catalog sync tests: git projects with committed lineage files, a counting Atlas client."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.models import EntitySpec, MutationResult
from catalog.crn import CrnScope
from catalog.sync.engine import Catalog
from tests.conftest import ATLAS_PASSWORD, RunningAtlas


class CountingClient(AtlasCatalogClient):
    """The real client, counting the write requests it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_requests = 0
        self.written_specs: list[EntitySpec] = []

    def upsert(self, specs: list[EntitySpec]) -> MutationResult:
        if specs:
            self.write_requests += 1
            self.written_specs.extend(specs)
        return super().upsert(specs)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit_file(repo: Path, name: str, content: str, message: str = "update") -> str:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "-c", "user.name=Data Scientist", "-c", "user.email=ds@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Path]:
    def make(lineage: str, name: str = "wine-project", file_name: str = "lineage.yml") -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        commit_file(repo, file_name, lineage, "initial commit")
        return repo

    return make


@pytest.fixture
def client(atlas: RunningAtlas) -> Iterator[CountingClient]:
    c = CountingClient(atlas.url, "admin", ATLAS_PASSWORD)
    yield c
    c.close()


@pytest.fixture
def catalog(client: CountingClient) -> Catalog:
    return Catalog(client, CrnScope("us-west-1", "acct-1", "ws-1"), "cm")
