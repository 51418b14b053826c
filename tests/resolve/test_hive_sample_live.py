"""sample_table against a REAL HiveServer2 (the Spark Thrift Server of tests/resolve/conftest.py, started once)."""

from __future__ import annotations

import statistics

import pytest

from catalog.resolve import (
    ColumnNotFound,
    HiveConfig,
    HiveResolver,
    HiveUnavailable,
    InvalidIdentifier,
    TableNotFound,
    sample_table,
)
from tests.integration_servers import HiveServer, free_ports

from .wine import WINE_COLUMNS, WINE_OBJECTS

pytestmark = pytest.mark.slow

IDS_ROWS = 2000
WINE_ROWS = sorted(tuple(line.split(",")) for body in WINE_OBJECTS.values()
                   for line in body.decode().splitlines())


@pytest.fixture(scope="module")
def ids_table(hive_server: HiveServer, hive_tables: float) -> str:
    """``sample_it.ids``: ids 0..1999 and a category, in a database of its own (others list ``default``)."""
    conn = hive_server.connect()
    try:
        cursor = conn.cursor()
        for statement in (
            "CREATE DATABASE IF NOT EXISTS sample_it",
            "CREATE TABLE IF NOT EXISTS sample_it.ids (id bigint, grp string) STORED AS PARQUET",
            f"INSERT OVERWRITE TABLE sample_it.ids SELECT id, CAST(id % 3 AS STRING) FROM range({IDS_ROWS})",
        ):
            cursor.execute(statement)
        cursor.close()
    finally:
        conn.close()
    return "sample_it.ids@primary"


def as_text(row: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in row)


def test_a_table_smaller_than_the_limit_comes_whole(hive_config: HiveConfig, hive_tables: float) -> None:
    s = sample_table(hive_config, "default.wineds_ext@primary")
    assert s.qualified_name == "default.wineds_ext@primary"
    assert s.columns == [n for n, _ in WINE_COLUMNS]
    assert s.types == [t for _, t in WINE_COLUMNS]
    assert s.total_rows == len(WINE_ROWS)
    assert all(isinstance(v, float) for row in s.rows for v in row[:11])  # typed values, not text
    assert sorted(as_text(r)[11:] for r in s.rows) == sorted(r[11:] for r in WINE_ROWS)
    assert sorted(r[0] for r in s.rows) == sorted(float(r[0]) for r in WINE_ROWS)


def test_a_larger_table_gives_a_uniform_random_sample(hive_config: HiveConfig, ids_table: str) -> None:
    s = sample_table(hive_config, ids_table, limit=200, seed=42)
    assert (s.columns, s.types) == (["id", "grp"], ["bigint", "string"])
    ids = [int(r[0]) for r in s.rows]
    assert len(ids) == 200 == len(set(ids))  # without replacement
    assert all(0 <= i < IDS_ROWS for i in ids)
    assert all(str(i % 3) == r[1] for i, r in zip(ids, s.rows, strict=True))
    # Not the first 200 rows: spread over the whole range (mean of a uniform sample: 999.5, sd of the mean ~41).
    assert 800 < statistics.mean(ids) < 1200
    assert max(ids) > 1500 and min(ids) < 500
    assert s.total_rows is None  # no statistics from Spark, and more rows than the limit
    # the same seed over the same files: the same sample; another seed: another one
    assert sorted(int(r[0]) for r in sample_table(hive_config, ids_table, limit=200, seed=42).rows) == sorted(ids)
    assert sorted(int(r[0]) for r in sample_table(hive_config, ids_table, limit=200, seed=43).rows) != sorted(ids)


def test_columns_restrict_the_sample(hive_config: HiveConfig, ids_table: str, hive_tables: float) -> None:
    s = sample_table(hive_config, "default.wineds_ext@primary", columns=["Alcohol", "quality"], limit=3, seed=1)
    assert (s.columns, s.types) == (["alcohol", "quality"], ["double", "string"])
    assert len(s.rows) == 3 and all(len(r) == 2 for r in s.rows)
    wine = {(float(r[10]), r[11]) for r in WINE_ROWS}
    assert {(float(r[0]), str(r[1])) for r in s.rows} <= wine
    with pytest.raises(ColumnNotFound):
        sample_table(hive_config, ids_table, columns=["id", "nope"])


def test_partitioned_table_and_view(hive_config: HiveConfig, hive_tables: float) -> None:
    part = sample_table(hive_config, "default.wine_part@primary")
    assert part.columns == ["fixedacidity", "quality", "vintage", "region"]
    assert (part.rows, part.total_rows) == ([], 0)
    view = sample_table(hive_config, "default.wine_good@primary")
    assert view.columns == ["fixedacidity", "alcohol", "quality"]
    assert sorted(str(r[2]) for r in view.rows) == sorted(r[11] for r in WINE_ROWS if r[11] >= "7")


def test_errors(hive_config: HiveConfig, hive_tables: float, hive_resolver: HiveResolver) -> None:
    with pytest.raises(TableNotFound):
        sample_table(hive_config, "default.no_such_table@primary")
    with pytest.raises(InvalidIdentifier):
        sample_table(hive_config, "default.wineds_ext@primary", columns=["alcohol; DROP TABLE wine_managed"])
    assert "wine_managed" in hive_resolver.list_tables("default")
    (port,) = free_ports(1)
    with pytest.raises(HiveUnavailable):
        sample_table(HiveConfig(host="127.0.0.1", port=port, timeout_s=5), "default.wineds_ext@primary")
