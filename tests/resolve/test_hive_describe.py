"""The DESCRIBE FORMATTED parser on Spark (captured) and Apache Hive 2/3 output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.resolve.errors import HiveUnexpectedOutput
from catalog.resolve.hive_describe import parse_create_time, parse_describe_formatted, parse_spark_properties
from catalog.resolve.models import HiveColumn

from . import samples

WINE_COLUMNS = [
    "fixedacidity", "volatileacidity", "citricacid", "residualsugar", "chlorides", "freesulfurdioxide",
    "totalsulfurdioxide", "density", "ph", "sulphates", "alcohol", "quality",
]  # fmt: skip


def _ms(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * 1000


# -- Spark ---------------------------------------------------------------------------------------------------


def test_spark_external_text_table() -> None:
    info = parse_describe_formatted(samples.SPARK_WINEDS_EXT, "default", "wineds_ext")
    assert [c.name for c in info.columns] == WINE_COLUMNS
    assert [c.position for c in info.columns] == list(range(12))
    assert {c.type for c in info.columns[:11]} == {"double"} and info.columns[11].type == "string"
    assert all(c.comment is None for c in info.columns)
    assert info.partition_keys == []
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == "s3a://wine-bucket/wine/data"
    assert info.owner == "mlcatalog-it"
    assert info.create_time_ms == _ms(2026, 11, 28, 0, 25, 38)
    assert info.provider == "hive"
    assert info.serde == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert info.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert info.output_format == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert info.parameters == {"transient_lastDdlTime": "1795825538"}
    assert info.storage_parameters == {"serialization.format": ",", "field.delim": ","}
    assert info.comment == "wine ext"
    assert info.view_text is None
    assert info.qualified_name("primary") == "default.wineds_ext@primary"


def test_spark_managed_table_keeps_column_comments() -> None:
    info = parse_describe_formatted(samples.SPARK_WINE_MANAGED, "default", "wine_managed")
    assert info.columns == [
        HiveColumn(name="a", type="int", comment="the a", position=0),
        HiveColumn(name="b", type="string", comment=None, position=1),
    ]
    assert info.table_type == "MANAGED_TABLE"
    assert info.location == "file:/tmp/mlcatalog-it-x1/hs2/warehouse/wine_managed"
    assert info.serde == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert info.comment is None


def test_spark_view() -> None:
    info = parse_describe_formatted(samples.SPARK_WINE_VIEW, "default", "wine_view")
    assert info.table_type == "VIRTUAL_VIEW"
    assert [(c.name, c.type) for c in info.columns] == [("fixedacidity", "double"), ("quality", "string")]
    assert info.location is None
    assert info.view_text == "SELECT fixedacidity, quality FROM default.wineds_ext WHERE quality > '6'"
    assert info.comment == "good wines"


def test_spark_partitioned_table_lists_partition_keys_once() -> None:
    info = parse_describe_formatted(samples.SPARK_WINE_PART, "default", "wine_part")
    assert [(c.name, c.type, c.position) for c in info.columns] == [("fixedacidity", "double", 0),
                                                                     ("quality", "string", 1)]
    assert [(c.name, c.type, c.position) for c in info.partition_keys] == [("vintage", "int", 0),
                                                                           ("region", "string", 1)]
    assert info.location == "s3a://wine-bucket/wine/part"
    assert info.table_type == "EXTERNAL_TABLE"


def test_spark_datasource_table_reports_provider() -> None:
    info = parse_describe_formatted(samples.SPARK_WINE_DS, "default", "wine_ds")
    assert info.provider == "parquet"
    assert info.table_type == "MANAGED_TABLE"
    assert info.parameters == {}


def test_names_are_lower_cased_like_atlas() -> None:
    info = parse_describe_formatted(samples.SPARK_WINE_DS, "Default", "Wine_DS")
    assert (info.db, info.table, info.name) == ("default", "wine_ds", "default.wine_ds")


# -- Apache Hive ---------------------------------------------------------------------------------------------


def test_hive2_external_table_padded_values_and_parameter_rows() -> None:
    info = parse_describe_formatted(samples.HIVE2_WINEDS_EXT, "default", "wineds_ext")
    assert [c.name for c in info.columns] == WINE_COLUMNS
    assert [c.position for c in info.columns] == list(range(12))
    assert info.columns[0] == HiveColumn(name="fixedacidity", type="double", comment=None, position=0)
    assert info.columns[11].comment == "wine quality 0-10"
    assert info.table_type == "EXTERNAL_TABLE"
    assert info.location == "s3a://wine-bucket/wine/data"
    assert info.owner == "hive"
    assert info.create_time_ms == _ms(2020, 3, 2, 10, 15, 30)
    assert info.serde == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert info.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert info.provider is None
    assert info.parameters == {
        "COLUMN_STATS_ACCURATE": '{"BASIC_STATS":"true"}',
        "EXTERNAL": "TRUE",
        "comment": "red wine quality",
        "numFiles": "2",
        "totalSize": "4096",
        "transient_lastDdlTime": "1583144130",
    }
    assert info.storage_parameters == {"field.delim": ",", "serialization.format": ","}
    assert info.comment == "red wine quality"  # Hive keeps the table comment in the parameters


def test_hive3_partitioned_managed_table_ignores_constraints_section() -> None:
    info = parse_describe_formatted(samples.HIVE3_FEATURES_PARTITIONED, "ml", "features")
    assert info.columns == [
        HiveColumn(name="id", type="bigint", comment="row id", position=0),
        HiveColumn(name="label", type="string", comment=None, position=1),
    ]
    assert info.partition_keys == [
        HiveColumn(name="dt", type="string", comment="load date", position=0),
        HiveColumn(name="hr", type="int", comment=None, position=1),
    ]
    assert info.table_type == "MANAGED_TABLE"
    assert info.location == "hdfs://nn1:8020/warehouse/tablespace/managed/hive/ml.db/features"
    assert info.serde == "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
    assert info.parameters["transactional"] == "true"
    assert info.storage_parameters == {"serialization.format": "1"}
    assert info.comment == "feature rows"
    assert info.owner == "hive"  # not confused by "OwnerType:" nor by the "# Constraints" rows
    assert info.create_time_ms == _ms(2021, 6, 15, 8, 0, 0)


def test_hive2_view_original_text_and_null_serde() -> None:
    info = parse_describe_formatted(samples.HIVE2_VIEW, "default", "wine_view")
    assert info.table_type == "VIRTUAL_VIEW"
    assert info.view_text == "SELECT fixedacidity, quality FROM wineds_ext WHERE quality > '6'"
    assert info.serde is None
    assert info.location is None
    assert info.comment == "good wines"
    assert [c.name for c in info.columns] == ["fixedacidity", "quality"]


def test_hive3_view_original_query() -> None:
    info = parse_describe_formatted(samples.HIVE3_VIEW, "ml", "recent")
    assert info.table_type == "VIRTUAL_VIEW"
    assert info.view_text == "SELECT id FROM ml.features WHERE dt > '2021-06-01'"
    assert info.owner == "analyst"
    assert info.create_time_ms is None  # "CEST" is not an unambiguous zone: no time rather than a wrong one


# -- edge cases ----------------------------------------------------------------------------------------------


def test_unknown_table_type_is_unexpected_output() -> None:
    rows = [("a", "int", None), ("", "", ""), ("# Detailed Table Information", "", ""), ("Type", "TEMPORARY", "")]
    with pytest.raises(HiveUnexpectedOutput) as ei:
        parse_describe_formatted(rows, "default", "t")
    assert ei.value.code == "hive.unexpected_output"


def test_missing_table_type_and_empty_output_are_unexpected() -> None:
    with pytest.raises(HiveUnexpectedOutput):
        parse_describe_formatted([("a", "int", None)], "default", "t")
    with pytest.raises(HiveUnexpectedOutput):
        parse_describe_formatted([], "default", "t")
    with pytest.raises(HiveUnexpectedOutput):
        parse_describe_formatted([("only-one-cell",)], "default", "t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", {}),
        ("[a=1]", {"a": "1"}),
        ("[serialization.format=,, field.delim=,]", {"serialization.format": ",", "field.delim": ","}),
        ("[note=x, y and z, k=v]", {"note": "x, y and z", "k": "v"}),
        ("[empty=, k=v]", {"empty": "", "k": "v"}),
    ],
)
def test_spark_properties(text: str, expected: dict[str, str]) -> None:
    assert parse_spark_properties(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat Nov 28 00:25:38 UTC 2026", _ms(2026, 11, 28, 0, 25, 38)),
        ("Fri Nov 27 22:35:41 GMT 2026", _ms(2026, 11, 27, 22, 35, 41)),
        ("Mon Jan 06 10:00:00 CET 2025", _ms(2025, 1, 6, 9, 0, 0)),
        ("Mon Jan  6 10:00:00 UTC 2025", _ms(2025, 1, 6, 10, 0, 0)),
        ("Wed Jun 16 09:30:00 PST 2021", None),
        ("UNKNOWN", None),
        ("", None),
        (None, None),
        ("Sat Feb 30 00:00:00 UTC 2026", None),
    ],
)
def test_create_time(text: str | None, expected: int | None) -> None:
    assert parse_create_time(text) == expected
