"""Fixtures shared by the tests in tests/embedded.

``store`` and ``api`` are an embedded store of one's own per module (the bundled typedefs in a tmp dir) and Starlette's
in-process client over its Atlas API; a module that wants them fresh per test, or wrapped, redefines them in two or
three lines over ``embedded_store`` and ``in_process_api``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient
from starlette.testclient import TestClient

from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from typedefs import load_bundled_typedefs

AUTH = (ATLAS_USER, ATLAS_PASSWORD)


def embedded_store(path: Path) -> Iterator[EmbeddedStore]:
    """A store over the bundled typedefs in ``path``, closed when the fixture ends."""
    store = EmbeddedStore(path, load_bundled_typedefs())
    try:
        yield store
    finally:
        store.close()


def in_process_api(store: EmbeddedStore, auth: tuple[str, str] | None = AUTH) -> Iterator[TestClient]:
    """Starlette's in-process client over the store's Atlas API (``/api/atlas``), sending ``auth`` unless a request
    says otherwise (None: each request brings its own)."""
    with TestClient(standalone_app(store, password=ATLAS_PASSWORD), base_url="http://atlas.test") as client:
        if auth is not None:
            client.auth = auth
        yield client


def fresh_api(path: Path) -> Iterator[TestClient]:
    """``in_process_api`` over an ``embedded_store`` of its own in ``path``."""
    for store in embedded_store(path):
        yield from in_process_api(store)


def ok(r: Any, status: int = 200) -> Any:
    """The response's JSON (None when it has no body), once its status is ``status``."""
    assert r.status_code == status, (r.request.method, r.request.url.path, r.status_code, r.text)
    return r.json() if r.content else None


class InProcessApi:
    """Calls under ``prefix`` through an in-process client, each checked for its status."""

    prefix = "/api/atlas/v2/"

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        return ok(self.client.request(method, self.prefix + path, **kwargs), status)


@pytest.fixture(scope="module")
def client(atlas_url: str) -> AtlasClient:
    return AtlasClient(atlas_url, AUTH)


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    yield from embedded_store(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]))


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[TestClient]:
    yield from in_process_api(store)


def settled(fetch: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """Download records (``searchDownloadRecords`` of ``fetch()``) once no task is pending, or after 20 s."""
    deadline = time.monotonic() + 20
    while True:
        records: list[dict[str, Any]] = fetch()["searchDownloadRecords"]
        if all(r["status"] != "PENDING" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.02)
