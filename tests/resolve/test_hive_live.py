"""HiveResolver against a REAL HiveServer2 (Spark Thrift Server, Derby metastore, s3a:// -> SeaweedFS)."""

from __future__ import annotations

import time

import pytest

from catalog.resolve import (
    DatabaseNotFound,
    HiveConfig,
    HiveResolver,
    HiveUnavailable,
    InvalidIdentifier,
    S3Resolver,
    TableNotFound,
)
from catalog.resolve.hive import HiveConnection, pyhive_connect
from tests.integration_servers import HiveServer

from .conftest import Uploaded
from .wine import FEATURE_COLUMNS, WINE_BUCKET, WINE_COLUMNS, WINE_OBJECTS

pytestmark = pytest.mark.slow


def test_external_table_on_s3a(hive_resolver: HiveResolver, hive_tables: float) -> None:
    info = hive_resolver.describe_table("default", "wineds_ext")
    assert [(c.name, c.type, c.position) for c in info.columns] == [
        (n, t, i) for i, (n, t) in enumerate(WINE_COLUMNS)
    ]
    assert info.partition_keys == []
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == f"s3a://{WINE_BUCKET}/wine/data"
    assert info.comment == "red wine quality"
    assert info.owner == "mlcatalog-it"  # the session user that ran the DDL
    assert info.provider == "hive"
    assert info.serde == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert info.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert info.storage_parameters.get("field.delim") == ","
    assert "transient_lastDdlTime" in info.parameters
    assert info.create_time_ms is not None
    assert hive_tables - 2 <= info.create_time_ms / 1000 <= time.time() + 2


def test_external_parquet_table_written_through_s3a(hive_resolver: HiveResolver, s3_resolver: S3Resolver) -> None:
    info = hive_resolver.describe_table("default", "wineds_ext_nolabel")
    assert [(c.name, c.type) for c in info.columns] == FEATURE_COLUMNS
    assert [c.position for c in info.columns] == list(range(11))
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == f"s3a://{WINE_BUCKET}/wine/nolabel"
    assert info.input_format == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert info.serde == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    # The INSERT ... SELECT wrote parquet files into SeaweedFS through s3a: the location resolves on S3 too.
    assert info.location is not None
    written = s3_resolver.describe_prefix(info.location)
    assert written.object_count >= 1 and written.total_size_bytes > 0


def test_location_resolves_on_s3_exactly(hive_resolver: HiveResolver, s3_resolver: S3Resolver,
                                         wine_objects: Uploaded) -> None:
    location = hive_resolver.describe_table("default", "wineds_ext").location
    assert location is not None
    prefix = s3_resolver.describe_prefix(location)
    assert (prefix.scheme, prefix.bucket, prefix.prefix) == ("s3a", WINE_BUCKET, "wine/data")
    assert prefix.object_count == len(WINE_OBJECTS)
    assert prefix.total_size_bytes == sum(len(b) for b in WINE_OBJECTS.values())


def test_managed_table(hive_resolver: HiveResolver, hive_server: HiveServer) -> None:
    info = hive_resolver.describe_table("default", "wine_managed")
    assert info.table_type == "MANAGED_TABLE"
    assert [(c.name, c.type, c.comment, c.position) for c in info.columns] == [
        ("id", "int", "row id", 0),
        ("label", "string", None, 1),
    ]
    assert info.location is not None and info.location.startswith("file:/")
    assert info.location.endswith("/warehouse/wine_managed")
    assert info.parameters["owner_team"] == "ml-platform"
    assert info.view_text is None


def test_view(hive_resolver: HiveResolver) -> None:
    info = hive_resolver.describe_table("default", "wine_good")
    assert info.table_type == "VIRTUAL_VIEW"
    assert [(c.name, c.type) for c in info.columns] == [("fixedacidity", "double"), ("alcohol", "double"),
                                                        ("quality", "string")]
    assert info.location is None
    assert info.view_text is not None and "FROM default.wineds_ext" in info.view_text
    assert info.comment == "good wines"


def test_partitioned_table(hive_resolver: HiveResolver) -> None:
    info = hive_resolver.describe_table("default", "wine_part")
    assert [(c.name, c.type, c.position) for c in info.columns] == [("fixedacidity", "double", 0),
                                                                     ("quality", "string", 1)]
    assert [(c.name, c.type, c.position) for c in info.partition_keys] == [("vintage", "int", 0),
                                                                           ("region", "string", 1)]
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == f"s3a://{WINE_BUCKET}/wine/partitioned"


def test_names_are_case_insensitive_and_lower_cased(hive_resolver: HiveResolver) -> None:
    info = hive_resolver.describe_table("DEFAULT", "MixedCase_TABLE")
    assert (info.db, info.table) == ("default", "mixedcase_table")
    assert [c.name for c in info.columns] == ["id"]
    assert hive_resolver.describe_qualified_name("Default.WINEDS_EXT@primary").table == "wineds_ext"


def test_missing_table_and_database(hive_resolver: HiveResolver) -> None:
    with pytest.raises(TableNotFound) as t:
        hive_resolver.describe_table("default", "no_such_table")
    assert (t.value.code, t.value.db, t.value.table) == ("hive.table_not_found", "default", "no_such_table")
    with pytest.raises(DatabaseNotFound) as d:
        hive_resolver.describe_table("no_such_db", "wineds_ext")
    assert (d.value.code, d.value.db) == ("hive.database_not_found", "no_such_db")
    with pytest.raises(DatabaseNotFound):
        hive_resolver.list_tables("no_such_db")
    assert "\n" not in str(t.value) + str(d.value)


def test_list_tables_and_existence(hive_resolver: HiveResolver) -> None:
    assert hive_resolver.list_tables("default") == sorted(
        ["wineds_ext", "wineds_ext_nolabel", "wine_managed", "wine_good", "wine_part", "mixedcase_table"]
    )
    assert hive_resolver.list_tables("lineage_it") == ["t1"]
    assert hive_resolver.database_exists("lineage_it")
    assert not hive_resolver.database_exists("lineage")  # LIKE patterns are not prefix matches
    assert hive_resolver.table_exists("lineage_it", "T1")
    assert not hive_resolver.table_exists("lineage_it", "t2")
    assert not hive_resolver.table_exists("nowhere", "t1")


def test_one_connection_is_reused(hive_config: HiveConfig, hive_tables: float) -> None:
    opened: list[HiveConnection] = []

    def counting(config: HiveConfig) -> HiveConnection:
        conn = pyhive_connect(config)
        opened.append(conn)
        return conn

    with HiveResolver(hive_config, connect=counting) as r:
        assert not r.connected  # lazy
        for table in ("wineds_ext", "wine_managed", "wine_good"):
            r.describe_table("default", table)
        with pytest.raises(TableNotFound):
            r.describe_table("default", "nope")
        r.list_tables("default")
        assert r.connected
    assert len(opened) == 1
    assert not r.connected


@pytest.mark.parametrize(
    "table", ["wineds_ext; DROP TABLE wine_managed", "wineds_ext`; DROP TABLE wine_managed; --", "x' OR '1'='1"]
)
def test_injection_is_refused_and_tables_survive(hive_resolver: HiveResolver, table: str) -> None:
    with pytest.raises(InvalidIdentifier):
        hive_resolver.describe_table("default", table)
    with pytest.raises(InvalidIdentifier):
        hive_resolver.describe_qualified_name(f"default.{table}@primary")
    assert "wine_managed" in hive_resolver.list_tables("default")


def test_auth_mismatch_is_unavailable_with_hint(hive_server: HiveServer) -> None:
    config = HiveConfig(host=hive_server.host, port=hive_server.port, auth="NONE", timeout_s=10)
    t0 = time.monotonic()
    with HiveResolver(config) as r, pytest.raises(HiveUnavailable) as ei:
        r.describe_table("default", "wineds_ext")
    assert time.monotonic() - t0 < 10
    assert f"{hive_server.host}:{hive_server.port}" in str(ei.value)
