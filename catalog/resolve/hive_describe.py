"""Parse ``DESCRIBE FORMATTED db.table`` result rows, as Spark Thrift Server or Apache Hive send them.

Both answer three string columns ``(col_name, data_type, comment)``; the layouts differ:

* **Spark** (3.x/4.x): column rows first (partition columns included, at the end), then optional
  ``# Partition Information`` / ``# col_name`` / key rows, a blank row, ``# Detailed Table Information`` and one
  row per key: ``Type`` (MANAGED/EXTERNAL/VIEW), ``Location``, ``Owner``, ``Created Time``, ``Provider``,
  ``Serde Library``, ``InputFormat``, ``OutputFormat``, ``Comment``, ``View Text``/``View Original Text``,
  ``Table Properties`` / ``Storage Properties`` as ``[k=v, k2=v2]``.
* **Hive** (2.x/3.x): a ``# col_name`` header row (Hive 2 follows it by a blank row), columns (partition keys
  NOT included), ``# Partition Information``, ``# Detailed Table Information`` with colon-suffixed keys
  (``Table Type:``, ``Location:``, ``Owner:``, ``CreateTime:``...) whose values are space-padded,
  ``Table Parameters:`` followed by ``('', key, value)`` rows, ``# Storage Information`` (``SerDe Library:``,
  ``InputFormat:``, ``OutputFormat:``, ``Storage Desc Params:`` + key rows) and, for views,
  ``# View Information`` (``View Original Text:`` in Hive 2, ``Original Query:`` in Hive 3). NULLs arrive as None.

Unknown sections (``# Constraints``, ``# Metadata Columns``...) and unknown keys are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from catalog.resolve.errors import HiveUnexpectedOutput
from catalog.resolve.models import HiveColumn, HiveTableInfo, HiveTableType

__all__ = ["parse_create_time", "parse_describe_formatted", "parse_spark_properties", "rows_of"]

_TABLE_TYPES: dict[str, HiveTableType] = {
    # Spark's CatalogTableType names
    "MANAGED": "MANAGED_TABLE",
    "EXTERNAL": "EXTERNAL_TABLE",
    "VIEW": "VIRTUAL_VIEW",
    "MATERIALIZED_VIEW": "MATERIALIZED_VIEW",
    # Hive metastore names
    "MANAGED_TABLE": "MANAGED_TABLE",
    "EXTERNAL_TABLE": "EXTERNAL_TABLE",
    "VIRTUAL_VIEW": "VIRTUAL_VIEW",
}
_NULLS = {"", "null", "NULL", "None"}
# Keys whose following ('', key, value) rows are a property map (Hive layout).
_MAP_KEYS = {"tableparameters": "parameters", "storagedescparams": "storage", "tableproperties": "parameters",
             "storageproperties": "storage"}

_SECTION_COLUMNS = "columns"
_SECTION_PARTITIONS = "partitions"
_SECTION_DETAIL = "detail"
_SECTION_IGNORED = "ignored"
_DETAIL_HEADERS = ("detailed table information", "storage information", "view information", "table information")


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _opt(value: str | None) -> str | None:
    return None if value is None or value.strip() in _NULLS else value.strip()


def _key(name: str) -> str:
    return name.rstrip(":").replace(" ", "").replace("_", "").lower()


def parse_spark_properties(text: str) -> dict[str, str]:
    """Spark's ``[k1=v1, k2=v2]`` property rendering -> dict (a ``", "`` inside a value stays in that value)."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    out: dict[str, str] = {}
    last: str | None = None
    for piece in body.split(", ") if body else []:
        key, sep, value = piece.partition("=")
        if sep and key and " " not in key:
            out[key] = value
            last = key
        elif last is not None:
            out[last] += ", " + piece
    return out


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                        "Dec"), start=1)}
_JAVA_DATE = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\S+) (\d{4})$")


def parse_create_time(text: str | None) -> int | None:
    """``java.util.Date.toString()`` (``Sat Nov 28 00:25:38 UTC 2026``) -> epoch ms; None if not parseable.

    The zone is the server JVM's: UTC/GMT and IANA names (``CET``, ``Europe/Paris``...) are understood;
    an ambiguous abbreviation like ``PST`` is not, and gives None rather than a wrong time.
    """
    m = _JAVA_DATE.match(_cell(text))
    if not m or m.group(1) not in _MONTHS:
        return None
    month, day, hh, mm, ss, zone, year = m.groups()
    if zone in ("UTC", "GMT", "Z"):
        tz: Any = UTC
    else:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    try:
        dt = datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1000


def _table_type(detail: dict[str, str], db: str, table: str) -> HiveTableType:
    raw = detail.get("tabletype") or detail.get("type")
    if raw is None:
        raise HiveUnexpectedOutput(f"DESCRIBE FORMATTED {db}.{table}: no table type in the output")
    try:
        return _TABLE_TYPES[raw.strip().upper()]
    except KeyError:
        raise HiveUnexpectedOutput(f"DESCRIBE FORMATTED {db}.{table}: unknown table type {raw!r}") from None


def _columns(rows: Iterable[tuple[str, str, str]]) -> list[HiveColumn]:
    # Names lower-cased: Hive is case-insensitive and its metastore (and Atlas) keep them lower-case; Spark
    # reports the case of the DDL.
    return [HiveColumn(name=n.lower(), type=t, comment=_opt(c), position=i) for i, (n, t, c) in enumerate(rows)]


def _section_of(header: str) -> str:
    """The section a ``# ...`` header row (lower-cased, without the ``#``) starts."""
    if header.startswith("partition information"):
        return _SECTION_PARTITIONS
    if header.startswith(_DETAIL_HEADERS):
        return _SECTION_DETAIL
    return _SECTION_IGNORED


class _DescribeRows:
    """What the rows of ``DESCRIBE FORMATTED`` say, section by section."""

    def __init__(self, db: str, table: str) -> None:
        self.db = db
        self.table = table
        self.section = _SECTION_COLUMNS
        self.columns: list[tuple[str, str, str]] = []
        self.partitions: list[tuple[str, str, str]] = []
        self.detail: dict[str, str] = {}
        self.maps: dict[str, dict[str, str]] = {"parameters": {}, "storage": {}}
        self.current_map: dict[str, str] | None = None  # the property map that ('', key, value) rows go to

    def add(self, raw: Sequence[Any]) -> None:
        if len(raw) < 2:
            raise HiveUnexpectedOutput(f"DESCRIBE FORMATTED {self.db}.{self.table}: row with {len(raw)} column(s)")
        name, dtype = _cell(raw[0]), _cell(raw[1])
        comment = _cell(raw[2]) if len(raw) > 2 else ""
        if name.startswith("#"):
            header = name.lstrip("#").strip().lower()
            if header != "col_name":  # else the "# col_name | data_type | comment" header row of a column list
                self.section = _section_of(header)
                self.current_map = None
            return
        if not name and not dtype and not comment:
            return  # blank separator row
        if self.section == _SECTION_COLUMNS:
            self.columns.append((name, dtype, comment))
        elif self.section == _SECTION_PARTITIONS:
            self.partitions.append((name, dtype, comment))
        elif self.section == _SECTION_DETAIL:
            self._add_detail(name, dtype, comment)

    def _add_detail(self, name: str, dtype: str, comment: str) -> None:
        if name:
            key = _key(name)
            self.detail[key] = dtype
            self.current_map = self.maps[_MAP_KEYS[key]] if key in _MAP_KEYS else None
            if self.current_map is not None and dtype.startswith("["):  # Spark: the whole map in one cell
                self.current_map.update(parse_spark_properties(dtype))
        elif self.current_map is not None and dtype:  # Hive: ('', key, value) below "Table Parameters:"
            self.current_map[dtype] = comment

    def table_columns(self) -> list[tuple[str, str, str]]:
        """The column rows without the partition columns (Spark repeats them at the end; Hive does not)."""
        part_names = [p[0].lower() for p in self.partitions]
        if part_names and [c[0].lower() for c in self.columns[-len(part_names):]] == part_names:
            return self.columns[: -len(part_names)]
        return self.columns


def parse_describe_formatted(rows: Sequence[Sequence[Any]], db: str, table: str) -> HiveTableInfo:
    """Build a :class:`HiveTableInfo` from the rows of ``DESCRIBE FORMATTED`` (Spark or Hive layout)."""
    parsed = _DescribeRows(db, table)
    for raw in rows:
        parsed.add(raw)
    detail, maps, partitions = parsed.detail, parsed.maps, parsed.partitions
    if not parsed.columns and parsed.section == _SECTION_COLUMNS and not detail:
        raise HiveUnexpectedOutput(f"DESCRIBE FORMATTED {db}.{table}: empty output")
    columns = parsed.table_columns()

    table_type = _table_type(detail, db, table)
    parameters = maps["parameters"]
    is_view = table_type in ("VIRTUAL_VIEW", "MATERIALIZED_VIEW")
    view_text = next(
        (v for k in ("vieworiginaltext", "originalquery", "viewtext", "viewexpandedtext", "expandedquery")
         if (v := _opt(detail.get(k))) is not None),
        None,
    )
    return HiveTableInfo(
        db=db.lower(),
        table=table.lower(),
        columns=_columns(columns),
        partition_keys=_columns(partitions),
        table_type=table_type,
        location=_opt(detail.get("location")),
        owner=_opt(detail.get("owner")),
        create_time_ms=parse_create_time(detail.get("createdtime") or detail.get("createtime")),
        input_format=_opt(detail.get("inputformat")),
        output_format=_opt(detail.get("outputformat")),
        serde=_opt(detail.get("serdelibrary")),
        provider=_opt(detail.get("provider")),
        parameters=parameters,
        storage_parameters=maps["storage"],
        comment=_opt(detail.get("comment")) or _opt(parameters.get("comment")),
        view_text=view_text if is_view else None,
    )


def rows_of(result: object) -> list[tuple[Any, ...]]:
    """DB-API ``fetchall()`` result -> list of tuples (PyHive gives tuples; fakes may give lists)."""
    return [tuple(cast(Sequence[Any], r)) for r in cast(Iterable[Any], result)]
