"""sample_table without a Hive server: the SQL it sends (fake connection), what is refused before anything is sent,
error mapping and what it returns."""

from __future__ import annotations

from typing import Any

import pytest
from thrift.transport.TTransport import TTransportException

from catalog.errors import InvalidInput, UpstreamUnavailable
from catalog.resolve import (
    ColumnNotFound,
    DatabaseNotFound,
    HiveConfig,
    HiveQueryFailed,
    HiveUnavailable,
    HiveUnexpectedOutput,
    InvalidIdentifier,
    InvalidSampleRequest,
    TableNotFound,
    TableSample,
    sample_table,
)
from catalog.resolve.errors import to_catalog_error

from . import samples
from .test_hive_resolver_unit import INJECTIONS, FakeConnect, _server_error

CONFIG = HiveConfig(host="127.0.0.1", port=10000)
WINE = [n for n, *_ in samples.SPARK_WINEDS_EXT[:12]]
ROWS = [(*(float(i) for i in range(11)), quality) for quality in ("5", "6")]


def test_one_describe_then_one_quoted_random_sample_on_one_connection() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT, "SELECT": ROWS})
    s = sample_table(CONFIG, "Default.WINEDS_EXT@cm", limit=500, seed=7, connect=fake)
    assert fake.executed == [
        "DESCRIBE FORMATTED `default`.`wineds_ext`",
        f"SELECT {', '.join(f'`{c}`' for c in WINE)} FROM `default`.`wineds_ext` ORDER BY rand(7) LIMIT 500",
    ]
    assert isinstance(s, TableSample)
    assert s.qualified_name == "Default.WINEDS_EXT@cm"  # as given
    assert s.columns == WINE
    assert s.types == ["double"] * 11 + ["string"]
    assert s.rows == ROWS
    assert s.total_rows == 2  # fewer rows than the limit: that is the whole table
    (conn,) = fake.connections
    assert conn.closed


def test_columns_restrict_the_select_in_the_order_given() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT, "SELECT": [(9.4, "5"), (9.8, "6")]})
    s = sample_table(CONFIG, "default.wineds_ext", columns=["Alcohol", "quality", "alcohol"], limit=2, connect=fake)
    assert fake.executed[-1] == "SELECT `alcohol`, `quality` FROM `default`.`wineds_ext` ORDER BY rand(0) LIMIT 2"
    assert (s.columns, s.types) == (["alcohol", "quality"], ["double", "string"])
    assert s.total_rows is None  # as many rows as the limit, and no statistics: unknown


def test_partition_keys_come_last() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINE_PART, "SELECT": []})
    s = sample_table(CONFIG, "default.wine_part@cm", connect=fake)
    assert (s.columns, s.types) == (["fixedacidity", "quality", "vintage", "region"],
                                    ["double", "string", "int", "string"])
    assert fake.executed[-1].endswith("ORDER BY rand(0) LIMIT 10000")
    assert (s.rows, s.total_rows) == ([], 0)


def test_total_rows_from_the_metastore_statistics() -> None:
    i = next(i for i, row in enumerate(samples.HIVE2_WINEDS_EXT) if row[1] == "transient_lastDdlTime")
    with_stats = [*samples.HIVE2_WINEDS_EXT[:i], ("", "numRows", "1599"), *samples.HIVE2_WINEDS_EXT[i:]]
    fake = FakeConnect({"DESCRIBE FORMATTED": with_stats, "SELECT": ROWS})
    assert sample_table(CONFIG, "default.wineds_ext", limit=2, connect=fake).total_rows == 1599
    stale = [*samples.HIVE2_WINEDS_EXT[:i], ("", "numRows", "1"), *samples.HIVE2_WINEDS_EXT[i:]]
    fake = FakeConnect({"DESCRIBE FORMATTED": stale, "SELECT": ROWS})
    assert sample_table(CONFIG, "default.wineds_ext", limit=2, connect=fake).total_rows is None


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_in_a_column_or_table_name_sends_nothing(bad: str) -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT})
    with pytest.raises(InvalidIdentifier):
        sample_table(CONFIG, "default.wineds_ext@cm", columns=["alcohol", bad], connect=fake)
    with pytest.raises(InvalidIdentifier):
        sample_table(CONFIG, f"default.{bad}@cm", connect=fake)
    assert fake.connections == []


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": -1}, {"limit": 1_000_001}, {"limit": True},
                                    {"limit": 1.5}, {"limit": "10; DROP TABLE x"}, {"seed": 2**31},
                                    {"seed": "1) --"}, {"seed": False}, {"columns": []}, {"columns": "alcohol"}])
def test_a_sample_that_cannot_be_asked_for_sends_nothing(kwargs: dict[str, Any]) -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT})
    with pytest.raises(InvalidSampleRequest) as ei:
        sample_table(CONFIG, "default.wineds_ext", connect=fake, **kwargs)
    assert ei.value.code == "hive.invalid_sample" and "\n" not in str(ei.value)
    assert fake.connections == []


def test_an_unknown_column_is_column_not_found_and_no_select_is_sent() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT})
    with pytest.raises(ColumnNotFound) as ei:
        sample_table(CONFIG, "default.wineds_ext", columns=["alcohol", "colour"], connect=fake)
    assert (ei.value.code, ei.value.column) == ("hive.column_not_found", "colour")
    assert "default.wineds_ext" in str(ei.value)
    assert [s.split(" ")[0] for s in fake.executed] == ["DESCRIBE"]


def test_missing_table_and_database() -> None:
    missing = _server_error("[TABLE_OR_VIEW_NOT_FOUND] The table or view `default`.`nope` cannot be found.")
    fake = FakeConnect({"DESCRIBE FORMATTED": missing, "SHOW DATABASES LIKE 'default'": [("default",)],
                        "SHOW DATABASES LIKE 'nodb'": []})
    with pytest.raises(TableNotFound):
        sample_table(CONFIG, "default.nope@cm", connect=fake)
    with pytest.raises(DatabaseNotFound):
        sample_table(CONFIG, "nodb.nope@cm", connect=fake)


def test_a_refused_select_is_query_failed_and_a_dropped_connection_unavailable() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT,
                        "SELECT": _server_error("java.lang.OutOfMemoryError: Java heap space")})
    with pytest.raises(HiveQueryFailed) as failed:
        sample_table(CONFIG, "default.wineds_ext", connect=fake)
    assert isinstance(to_catalog_error(failed.value), InvalidInput)
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT,
                        "SELECT": TTransportException(message="TSocket read 0 bytes")})
    with pytest.raises(HiveUnavailable) as down:
        sample_table(CONFIG, "default.wineds_ext", connect=fake)
    assert isinstance(to_catalog_error(down.value), UpstreamUnavailable)
    assert all(c.closed for c in fake.connections)


def test_rows_that_do_not_match_the_columns_are_unexpected_output() -> None:
    fake = FakeConnect({"DESCRIBE FORMATTED": samples.SPARK_WINEDS_EXT, "SELECT": [(1.0, "5")]})
    with pytest.raises(HiveUnexpectedOutput):
        sample_table(CONFIG, "default.wineds_ext", connect=fake)
