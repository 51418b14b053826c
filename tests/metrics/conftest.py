"""Fixtures for the metrics store: both backends, fresh CRNs per test, throwaway PostgreSQL databases.

PostgreSQL: the server at 127.0.0.1:5432 (``MLCATALOG_TEST_PG``: another host/port/user, as a URL without a
database), reached as the current OS user or ``postgres`` (trust auth in dev and CI). Each test session creates
its own databases, named ``mlcatalog_metrics_t<pid>_<random>_*``, and drops them at the end. An unreachable
server FAILS the PostgreSQL tests (it is part of the dev and CI machines) instead of skipping them silently.
Tests share one database per session and stay apart by using CRNs nobody else uses (``crns`` fixture).
"""

from __future__ import annotations

import getpass
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from serving.metrics import MetricRecord, MetricsStore, open_metrics_store, sqlite_url

BACKENDS = ["sqlite", "postgresql"]
WINE_FEATURES = ("fixedAcidity", "volatileAcidity", "citricAcid", "residualSugar", "chlorides",
                 "freeSulfurDioxide", "totalSulfurDioxide", "density", "pH", "sulphates", "Alcohol")


@dataclass
class PgServer:
    """Creates throwaway databases through an admin URL; drops them all in ``drop_all``."""

    admin_url: str
    prefix: str = field(default_factory=lambda: f"mlcatalog_metrics_t{os.getpid()}_{secrets.token_hex(3)}")
    created: list[str] = field(default_factory=list)

    def create(self, suffix: str) -> str:
        import psycopg

        name = f"{self.prefix}_{suffix}_{len(self.created)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_url() -> str:
    import psycopg

    base = os.environ.get("MLCATALOG_TEST_PG", "").rstrip("/")
    candidates = [base] if base else [f"postgresql://{u}@127.0.0.1:5432" for u in (getpass.getuser(), "postgres")]
    errors = []
    for candidate in candidates:
        for db in ("postgres", "test"):
            try:
                with psycopg.connect(f"{candidate}/{db}", connect_timeout=5):
                    return f"{candidate}/{db}"
            except psycopg.Error as exc:
                errors.append(f"{candidate}/{db}: {exc}".strip())
    pytest.fail("PostgreSQL for the metrics store tests is not reachable:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(_admin_url())
    try:
        yield server
    finally:
        server.drop_all()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    return pg_server.create("shared")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return sqlite_url(tmp_path / "metrics.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[..., MetricsStore]]:
    """Opens stores at the test's URL (or another), closing them all at teardown."""
    opened: list[MetricsStore] = []

    def _open(url: str | None = None, **kwargs: Any) -> MetricsStore:
        store = open_metrics_store(url or store_url, **kwargs)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., MetricsStore]) -> MetricsStore:
    return open_store()


@dataclass(frozen=True)
class Crns:
    """A model, build and deployment nobody else in the session uses (CML's CRN shape)."""

    deployment: str
    build: str
    model: str

    @classmethod
    def fresh(cls) -> Crns:
        prefix = f"crn:cdp:ml:us-west-1:{uuid.uuid4()}:workspace:{uuid.uuid4()}/"
        return cls(prefix + str(uuid.uuid4()), prefix + str(uuid.uuid4()), prefix + str(uuid.uuid4()))

    def record(self, start_ms: int, metrics: dict[str, Any] | None = None, *, end_ms: int | None = None,
               prediction_uuid: str | None = "new") -> MetricRecord:
        return MetricRecord(
            model_deployment_crn=self.deployment, model_build_crn=self.build, model_crn=self.model,
            prediction_uuid=str(uuid.uuid4()) if prediction_uuid == "new" else prediction_uuid,
            start_ms=start_ms, end_ms=start_ms + 5 if end_ms is None else end_ms,
            metrics=metrics if metrics is not None else wine_metrics(start_ms))


def wine_metrics(seed: int) -> dict[str, Any]:
    """11 feature values like the wine demo's model.py tracks, plus its prediction."""
    values = {name: round(((seed * 7 + i * 13) % 97) / 7.0, 3) for i, name in enumerate(WINE_FEATURES)}
    return {**values, "prediction": "Excellent" if values["Alcohol"] >= 10 else "Poor"}


@pytest.fixture
def crns() -> Crns:
    return Crns.fresh()
