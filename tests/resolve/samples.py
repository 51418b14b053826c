"""``DESCRIBE FORMATTED`` rows as HiveServer2 sends them through PyHive (``cursor.fetchall()``).

SPARK_*: captured from Spark Thrift Server 4.3.0 (pyspark wheel) with the DDL in each comment.
HIVE2_* / HIVE3_*: Apache Hive 2.3 / 3.1 layout (``MetaDataFormatUtils``): colon-suffixed keys, values
space-padded to 20 characters, NULL cells as None, table parameters as ('', key, value) rows.
"""

from __future__ import annotations

from typing import Any

Rows = list[tuple[Any, ...]]

# CREATE EXTERNAL TABLE default.wineds_ext (fixedacidity double, ..., quality string) COMMENT 'wine ext'
#   ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE LOCATION 's3a://wine-bucket/wine/data/'
SPARK_WINEDS_EXT: Rows = [
    ('fixedacidity', 'double', None),
    ('volatileacidity', 'double', None),
    ('citricacid', 'double', None),
    ('residualsugar', 'double', None),
    ('chlorides', 'double', None),
    ('freesulfurdioxide', 'double', None),
    ('totalsulfurdioxide', 'double', None),
    ('density', 'double', None),
    ('ph', 'double', None),
    ('sulphates', 'double', None),
    ('alcohol', 'double', None),
    ('quality', 'string', None),
    ('', '', ''),
    ('# Detailed Table Information', '', ''),
    ('Catalog', 'spark_catalog', ''),
    ('Database', 'default', ''),
    ('Table', 'wineds_ext', ''),
    ('Owner', 'mlcatalog-it', ''),
    ('Created Time', 'Sat Nov 28 00:25:38 UTC 2026', ''),
    ('Last Access', 'UNKNOWN', ''),
    ('Created By', 'Spark 4.3.0', ''),
    ('Type', 'EXTERNAL', ''),
    ('Provider', 'hive', ''),
    ('Comment', 'wine ext', ''),
    ('Table Properties', '[transient_lastDdlTime=1795825538]', ''),
    ('Statistics', '49 bytes, 0 rows', ''),
    ('Location', 's3a://wine-bucket/wine/data', ''),
    ('Serde Library', 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe', ''),
    ('InputFormat', 'org.apache.hadoop.mapred.TextInputFormat', ''),
    ('OutputFormat', 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat', ''),
    ('Storage Properties', '[serialization.format=,, field.delim=,]', ''),
    ('Partition Provider', 'Catalog', ''),
]

# CREATE TABLE default.wine_managed (a int COMMENT 'the a', b string) STORED AS PARQUET
SPARK_WINE_MANAGED: Rows = [
    ('a', 'int', 'the a'),
    ('b', 'string', None),
    ('', '', ''),
    ('# Detailed Table Information', '', ''),
    ('Catalog', 'spark_catalog', ''),
    ('Database', 'default', ''),
    ('Table', 'wine_managed', ''),
    ('Owner', 'mlcatalog-it', ''),
    ('Created Time', 'Sat Nov 28 00:25:39 UTC 2026', ''),
    ('Last Access', 'UNKNOWN', ''),
    ('Created By', 'Spark 4.3.0', ''),
    ('Type', 'MANAGED', ''),
    ('Provider', 'hive', ''),
    ('Table Properties', '[transient_lastDdlTime=1795825539]', ''),
    ('Location', 'file:/tmp/mlcatalog-it-x1/hs2/warehouse/wine_managed', ''),
    ('Serde Library', 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', ''),
    ('InputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat', ''),
    ('OutputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat', ''),
    ('Storage Properties', '[serialization.format=1]', ''),
    ('Partition Provider', 'Catalog', ''),
]

# CREATE VIEW default.wine_view COMMENT 'good wines' AS
#   SELECT fixedacidity, quality FROM default.wineds_ext WHERE quality > '6'
SPARK_WINE_VIEW: Rows = [
    ('fixedacidity', 'double', None),
    ('quality', 'string', None),
    ('', '', ''),
    ('# Detailed Table Information', '', ''),
    ('Catalog', 'spark_catalog', ''),
    ('Database', 'default', ''),
    ('Table', 'wine_view', ''),
    ('Owner', 'mlcatalog-it', ''),
    ('Created Time', 'Sat Nov 28 00:25:40 UTC 2026', ''),
    ('Last Access', 'UNKNOWN', ''),
    ('Created By', 'Spark 4.3.0', ''),
    ('Type', 'VIEW', ''),
    ('Comment', 'good wines', ''),
    ('View Text', "SELECT fixedacidity, quality FROM default.wineds_ext WHERE quality > '6'", ''),
    ('View Original Text', "SELECT fixedacidity, quality FROM default.wineds_ext WHERE quality > '6'", ''),
    ('View Schema Mode', 'COMPENSATION', ''),
    ('View Catalog and Namespace', 'spark_catalog.default', ''),
    ('View Query Output Columns', '[`fixedacidity`, `quality`]', ''),
    ('Table Properties', '[transient_lastDdlTime=1795825540]', ''),
    ('Serde Library', 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe', ''),
    ('InputFormat', 'org.apache.hadoop.mapred.SequenceFileInputFormat', ''),
    ('OutputFormat', 'org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat', ''),
    ('Storage Properties', '[serialization.format=1]', ''),
]

# CREATE EXTERNAL TABLE default.wine_part (fixedacidity double, quality string)
#   PARTITIONED BY (vintage int, region string) STORED AS PARQUET LOCATION 's3a://wine-bucket/wine/part/'
SPARK_WINE_PART: Rows = [
    ('fixedacidity', 'double', None),
    ('quality', 'string', None),
    ('vintage', 'int', None),
    ('region', 'string', None),
    ('# Partition Information', '', ''),
    ('# col_name', 'data_type', 'comment'),
    ('vintage', 'int', None),
    ('region', 'string', None),
    ('', '', ''),
    ('# Detailed Table Information', '', ''),
    ('Catalog', 'spark_catalog', ''),
    ('Database', 'default', ''),
    ('Table', 'wine_part', ''),
    ('Owner', 'mlcatalog-it', ''),
    ('Created Time', 'Sat Nov 28 00:25:41 UTC 2026', ''),
    ('Last Access', 'UNKNOWN', ''),
    ('Created By', 'Spark 4.3.0', ''),
    ('Type', 'EXTERNAL', ''),
    ('Provider', 'hive', ''),
    ('Table Properties', '[transient_lastDdlTime=1795825541]', ''),
    ('Location', 's3a://wine-bucket/wine/part', ''),
    ('Serde Library', 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', ''),
    ('InputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat', ''),
    ('OutputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat', ''),
    ('Storage Properties', '[serialization.format=1]', ''),
    ('Partition Provider', 'Catalog', ''),
]

# CREATE TABLE default.wine_ds (a int, b string) USING parquet
SPARK_WINE_DS: Rows = [
    ('a', 'int', None),
    ('b', 'string', None),
    ('', '', ''),
    ('# Detailed Table Information', '', ''),
    ('Catalog', 'spark_catalog', ''),
    ('Database', 'default', ''),
    ('Table', 'wine_ds', ''),
    ('Owner', 'mlcatalog-it', ''),
    ('Created Time', 'Sat Nov 28 00:25:42 UTC 2026', ''),
    ('Last Access', 'UNKNOWN', ''),
    ('Created By', 'Spark 4.3.0', ''),
    ('Type', 'MANAGED', ''),
    ('Provider', 'parquet', ''),
    ('Location', 'file:/tmp/mlcatalog-it-x1/hs2/warehouse/wine_ds', ''),
    ('Serde Library', 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', ''),
    ('InputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat', ''),
    ('OutputFormat', 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat', ''),
]


def _p(value: str | None) -> str | None:
    """Hive pads names and values to 20 characters (``MetaDataFormatUtils.ALIGNMENT``)."""
    return None if value is None else value.ljust(20)


_COL_HEADER = (_p("# col_name"), _p("data_type"), _p("comment"))
_BLANK = ("", None, None)

# Hive 2.3.9, CREATE EXTERNAL TABLE default.wineds_ext (...12 columns...) COMMENT 'red wine quality'
#   ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE LOCATION 's3a://wine-bucket/wine/data/'
HIVE2_WINEDS_EXT: Rows = [
    _COL_HEADER,
    _BLANK,  # Hive 2 puts a blank row under the header
    (_p("fixedacidity"), _p("double"), _p("")),
    (_p("volatileacidity"), _p("double"), _p("")),
    (_p("citricacid"), _p("double"), _p("")),
    (_p("residualsugar"), _p("double"), _p("")),
    (_p("chlorides"), _p("double"), _p("")),
    (_p("freesulfurdioxide"), _p("double"), _p("")),
    (_p("totalsulfurdioxide"), _p("double"), _p("")),
    (_p("density"), _p("double"), _p("")),
    (_p("ph"), _p("double"), _p("")),
    (_p("sulphates"), _p("double"), _p("")),
    (_p("alcohol"), _p("double"), _p("")),
    (_p("quality"), _p("string"), _p("wine quality 0-10")),
    _BLANK,
    ("# Detailed Table Information", None, None),
    (_p("Database:"), _p("default"), None),
    (_p("Owner:"), _p("hive"), None),
    (_p("CreateTime:"), "Mon Mar 02 10:15:30 UTC 2020", None),
    (_p("LastAccessTime:"), _p("UNKNOWN"), None),
    (_p("Retention:"), _p("0"), None),
    (_p("Location:"), "s3a://wine-bucket/wine/data", None),
    (_p("Table Type:"), _p("EXTERNAL_TABLE"), None),
    ("Table Parameters:", None, None),
    ("", "COLUMN_STATS_ACCURATE", '{"BASIC_STATS":"true"}'),
    ("", _p("EXTERNAL"), _p("TRUE")),
    ("", _p("comment"), _p("red wine quality")),
    ("", _p("numFiles"), _p("2")),
    ("", _p("totalSize"), _p("4096")),
    ("", "transient_lastDdlTime", _p("1583144130")),
    _BLANK,
    ("# Storage Information", None, None),
    (_p("SerDe Library:"), "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", None),
    (_p("InputFormat:"), "org.apache.hadoop.mapred.TextInputFormat", None),
    (_p("OutputFormat:"), "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", None),
    (_p("Compressed:"), _p("No"), None),
    (_p("Num Buckets:"), _p("-1"), None),
    (_p("Bucket Columns:"), _p("[]"), None),
    (_p("Sort Columns:"), _p("[]"), None),
    ("Storage Desc Params:", None, None),
    ("", _p("field.delim"), _p(",")),
    ("", "serialization.format", _p(",")),
]

# Hive 3.1.3, CREATE TABLE ml.features (id bigint COMMENT 'row id', label string) COMMENT 'feature rows'
#   PARTITIONED BY (dt string COMMENT 'load date', hr int) STORED AS ORC  -- ACID managed table, primary key
HIVE3_FEATURES_PARTITIONED: Rows = [
    _COL_HEADER,  # Hive 3: no blank row under the header
    (_p("id"), _p("bigint"), _p("row id")),
    (_p("label"), _p("string"), ""),
    _BLANK,
    ("# Partition Information", None, None),
    _COL_HEADER,
    (_p("dt"), _p("string"), _p("load date")),
    (_p("hr"), _p("int"), ""),
    _BLANK,
    ("# Detailed Table Information", None, None),
    (_p("Database:"), _p("ml"), None),
    (_p("OwnerType:"), _p("USER"), None),
    (_p("Owner:"), _p("hive"), None),
    (_p("CreateTime:"), "Tue Jun 15 08:00:00 UTC 2021", None),
    (_p("LastAccessTime:"), _p("UNKNOWN"), None),
    (_p("Retention:"), _p("0"), None),
    (_p("Location:"), "hdfs://nn1:8020/warehouse/tablespace/managed/hive/ml.db/features", None),
    (_p("Table Type:"), _p("MANAGED_TABLE"), None),
    ("Table Parameters:", None, None),
    ("", "COLUMN_STATS_ACCURATE", '{"BASIC_STATS":"true"}'),
    ("", _p("bucketing_version"), _p("2")),
    ("", _p("comment"), _p("feature rows")),
    ("", _p("numFiles"), _p("0")),
    ("", _p("numPartitions"), _p("0")),
    ("", _p("transactional"), _p("true")),
    ("", "transactional_properties", _p("default")),
    ("", "transient_lastDdlTime", _p("1623744000")),
    _BLANK,
    ("# Storage Information", None, None),
    (_p("SerDe Library:"), "org.apache.hadoop.hive.ql.io.orc.OrcSerde", None),
    (_p("InputFormat:"), "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat", None),
    (_p("OutputFormat:"), "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat", None),
    (_p("Compressed:"), _p("No"), None),
    (_p("Num Buckets:"), _p("-1"), None),
    (_p("Bucket Columns:"), _p("[]"), None),
    (_p("Sort Columns:"), _p("[]"), None),
    ("Storage Desc Params:", None, None),
    ("", "serialization.format", _p("1")),
    _BLANK,
    ("# Constraints", None, None),
    _BLANK,
    ("# Primary Key", None, None),
    (_p("Table:"), _p("ml.features"), None),
    (_p("Constraint Name:"), _p("pk_features"), None),
    (_p("Column Name:"), _p("id"), None),
]

# Hive 2.3.9, CREATE VIEW default.wine_view COMMENT 'good wines' AS
#   SELECT fixedacidity, quality FROM wineds_ext WHERE quality > '6'
HIVE2_VIEW: Rows = [
    _COL_HEADER,
    _BLANK,
    (_p("fixedacidity"), _p("double"), _p("")),
    (_p("quality"), _p("string"), _p("")),
    _BLANK,
    ("# Detailed Table Information", None, None),
    (_p("Database:"), _p("default"), None),
    (_p("Owner:"), _p("hive"), None),
    (_p("CreateTime:"), "Mon Mar 02 10:20:00 UTC 2020", None),
    (_p("LastAccessTime:"), _p("UNKNOWN"), None),
    (_p("Retention:"), _p("0"), None),
    (_p("Table Type:"), _p("VIRTUAL_VIEW"), None),
    ("Table Parameters:", None, None),
    ("", _p("comment"), _p("good wines")),
    ("", "transient_lastDdlTime", _p("1583144400")),
    _BLANK,
    ("# Storage Information", None, None),
    (_p("SerDe Library:"), _p("null"), None),
    (_p("InputFormat:"), "org.apache.hadoop.mapred.SequenceFileInputFormat", None),
    (_p("OutputFormat:"), "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat", None),
    (_p("Compressed:"), _p("No"), None),
    (_p("Num Buckets:"), _p("-1"), None),
    (_p("Bucket Columns:"), _p("[]"), None),
    (_p("Sort Columns:"), _p("[]"), None),
    _BLANK,
    ("# View Information", None, None),
    (_p("View Original Text:"), "SELECT fixedacidity, quality FROM wineds_ext WHERE quality > '6'", None),
    (
        _p("View Expanded Text:"),
        "SELECT `wineds_ext`.`fixedacidity`, `wineds_ext`.`quality` FROM `default`.`wineds_ext` "
        "WHERE `wineds_ext`.`quality` > '6'",
        None,
    ),
    ("View Rewrite Enabled:", _p("No"), None),
]

# Hive 3.1.3, CREATE VIEW ml.recent AS SELECT id FROM ml.features WHERE dt > '2021-06-01'
HIVE3_VIEW: Rows = [
    _COL_HEADER,
    (_p("id"), _p("bigint"), ""),
    _BLANK,
    ("# Detailed Table Information", None, None),
    (_p("Database:"), _p("ml"), None),
    (_p("OwnerType:"), _p("USER"), None),
    (_p("Owner:"), _p("analyst"), None),
    (_p("CreateTime:"), "Wed Jun 16 09:30:00 CEST 2021", None),
    (_p("LastAccessTime:"), _p("UNKNOWN"), None),
    (_p("Retention:"), _p("0"), None),
    (_p("Table Type:"), _p("VIRTUAL_VIEW"), None),
    ("Table Parameters:", None, None),
    ("", "transient_lastDdlTime", _p("1623828600")),
    _BLANK,
    ("# Storage Information", None, None),
    (_p("SerDe Library:"), _p("null"), None),
    (_p("InputFormat:"), "org.apache.hadoop.mapred.TextInputFormat", None),
    (_p("OutputFormat:"), "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", None),
    (_p("Compressed:"), _p("No"), None),
    (_p("Num Buckets:"), _p("-1"), None),
    (_p("Bucket Columns:"), _p("[]"), None),
    (_p("Sort Columns:"), _p("[]"), None),
    _BLANK,
    ("# View Information", None, None),
    (_p("Original Query:"), "SELECT id FROM ml.features WHERE dt > '2021-06-01'", None),
    (_p("Expanded Query:"), "SELECT `features`.`id` FROM `ml`.`features` WHERE `features`.`dt` > '2021-06-01'", None),
]
