"""Fixtures: a real SeaweedFS (S3) and a real Spark Thrift Server (HiveServer2, s3a -> SeaweedFS).

Both are started once, only when a test asks for them, in one temporary directory that is removed at the end;
they are stopped by PID. Scope "package": these fixtures are visible to tests/resolve only, so that is the
same single start per run as "session", but the servers (~0.7 GB) stop as soon as the last test of
tests/resolve is done instead of running through the rest of the suite. A missing prerequisite FAILS the
tests that need it, with the install command (CI must install them; see tests/integration_servers.py).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from catalog.resolve import HiveConfig, HiveResolver, S3Config, S3Resolver
from tests.integration_servers import (
    HiveServer,
    PrerequisiteMissing,
    S3Server,
    start_seaweedfs,
    start_spark_thrift_server,
)

from .wine import HIVE_DDL, STATS_OBJECTS, WINE_BUCKET, WINE_OBJECTS

T = TypeVar("T")


def _start(what: str, start: Callable[[], T]) -> T:
    try:
        return start()
    except PrerequisiteMissing as e:
        pytest.fail(f"cannot start {what}: {e}", pytrace=False)


@pytest.fixture(scope="package")
def servers_tmpdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mlcatalog-it-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="package")
def s3_server(servers_tmpdir: Path) -> Iterator[S3Server]:
    server = _start("SeaweedFS", lambda: start_seaweedfs(servers_tmpdir / "s3", buckets=[WINE_BUCKET]))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def hive_server(servers_tmpdir: Path, s3_server: S3Server) -> Iterator[HiveServer]:
    server = _start("Spark Thrift Server", lambda: start_spark_thrift_server(servers_tmpdir / "hs2", s3=s3_server))
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Uploaded:
    """What the tests put into S3, and when: key -> (epoch s before the put, epoch s after it)."""

    objects: dict[str, bytes]
    put_times: dict[str, tuple[float, float]]


@pytest.fixture(scope="package")
def wine_objects(s3_server: S3Server) -> Uploaded:
    client = s3_server.client()
    everything = {**WINE_OBJECTS, **STATS_OBJECTS}
    put_times: dict[str, tuple[float, float]] = {}
    for key, body in everything.items():
        before = time.time()
        client.put_object(Bucket=WINE_BUCKET, Key=key, Body=body)
        put_times[key] = (before, time.time())
    client.close()
    return Uploaded(objects=everything, put_times=put_times)


@pytest.fixture(scope="package")
def hive_tables(hive_server: HiveServer, wine_objects: Uploaded) -> float:
    """Create the test tables (wine.HIVE_DDL); returns the epoch seconds just before the first DDL."""
    started = time.time()
    conn = hive_server.connect()
    try:
        cursor = conn.cursor()
        for statement in HIVE_DDL:
            cursor.execute(statement)
        cursor.close()
    finally:
        conn.close()
    return started


@pytest.fixture
def hive_config(hive_server: HiveServer) -> HiveConfig:
    return HiveConfig(host=hive_server.host, port=hive_server.port, auth="NOSASL", username="resolver", timeout_s=60)


@pytest.fixture
def hive_resolver(hive_config: HiveConfig, hive_tables: float) -> Iterator[HiveResolver]:
    with HiveResolver(hive_config) as resolver:
        yield resolver


@pytest.fixture
def s3_config(s3_server: S3Server) -> S3Config:
    return S3Config(
        endpoint_url=s3_server.endpoint,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
    )


@pytest.fixture
def s3_resolver(s3_config: S3Config, wine_objects: Uploaded) -> Iterator[S3Resolver]:
    with S3Resolver(s3_config) as resolver:
        yield resolver
