"""Test data and DDL for the live resolver tests (the wine-quality demo, shrunk to a few rows)."""

from __future__ import annotations

WINE_BUCKET = "wine-bucket"

WINE_COLUMNS: list[tuple[str, str]] = [
    ("fixedacidity", "double"),
    ("volatileacidity", "double"),
    ("citricacid", "double"),
    ("residualsugar", "double"),
    ("chlorides", "double"),
    ("freesulfurdioxide", "double"),
    ("totalsulfurdioxide", "double"),
    ("density", "double"),
    ("ph", "double"),
    ("sulphates", "double"),
    ("alcohol", "double"),
    ("quality", "string"),
]
FEATURE_COLUMNS = WINE_COLUMNS[:11]

# No header line: Spark does not honour skip.header.line.count on Hive text tables (reference §1.4).
_ROWS = [
    "7.4,0.7,0.0,1.9,0.076,11.0,34.0,0.9978,3.51,0.56,9.4,5",
    "7.8,0.88,0.0,2.6,0.098,25.0,67.0,0.9968,3.2,0.68,9.8,5",
    "7.8,0.76,0.04,2.3,0.092,15.0,54.0,0.997,3.26,0.65,9.8,5",
    "11.2,0.28,0.56,1.9,0.075,17.0,60.0,0.998,3.16,0.58,9.8,6",
    "7.3,0.65,0.0,1.2,0.065,15.0,21.0,0.9946,3.39,0.47,10.0,7",
    "7.8,0.58,0.02,2.0,0.073,9.0,18.0,0.9968,3.36,0.57,9.5,7",
]
#: key -> body, all under ``wine/data/`` (the location of ``default.wineds_ext``).
WINE_OBJECTS: dict[str, bytes] = {
    "wine/data/part-00000.csv": ("\n".join(_ROWS[:3]) + "\n").encode(),
    "wine/data/part-00001.csv": ("\n".join(_ROWS[3:5]) + "\n").encode(),
    "wine/data/part-00002.csv": (_ROWS[5] + "\n").encode(),
}
#: Objects for prefix statistics: nested keys, a sibling prefix that must not be counted, a directory marker.
STATS_OBJECTS: dict[str, bytes] = {
    "stats/a.csv": b"a" * 10,
    "stats/sub/b.csv": b"b" * 200,
    "stats/sub/deeper/c.bin": b"c" * 3000,
    "stats_old/d.csv": b"d" * 7,
    "markers/empty/": b"",
}


def _cols(cols: list[tuple[str, str]]) -> str:
    return ", ".join(f"{n} {t}" for n, t in cols)


HIVE_DDL: list[str] = [
    f"CREATE EXTERNAL TABLE default.wineds_ext ({_cols(WINE_COLUMNS)}) COMMENT 'red wine quality' "
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE "
    f"LOCATION 's3a://{WINE_BUCKET}/wine/data/'",
    f"CREATE EXTERNAL TABLE default.wineds_ext_nolabel ({_cols(FEATURE_COLUMNS)}) STORED AS PARQUET "
    f"LOCATION 's3a://{WINE_BUCKET}/wine/nolabel/'",
    # Writes parquet files through s3a into SeaweedFS.
    f"INSERT INTO default.wineds_ext_nolabel SELECT {', '.join(n for n, _ in FEATURE_COLUMNS)} FROM default.wineds_ext",
    "CREATE TABLE default.wine_managed (id int COMMENT 'row id', label string) STORED AS PARQUET "
    "TBLPROPERTIES ('owner_team'='ml-platform')",
    "CREATE VIEW default.wine_good COMMENT 'good wines' AS "
    "SELECT fixedacidity, alcohol, quality FROM default.wineds_ext WHERE quality >= '7'",
    "CREATE EXTERNAL TABLE default.wine_part (fixedacidity double, quality string) "
    "PARTITIONED BY (vintage int, region string) STORED AS PARQUET "
    f"LOCATION 's3a://{WINE_BUCKET}/wine/partitioned/'",
    "CREATE TABLE default.MixedCase_Table (Id int) STORED AS PARQUET",
    "CREATE DATABASE lineage_it",
    "CREATE TABLE lineage_it.t1 (a int) STORED AS PARQUET",
]
