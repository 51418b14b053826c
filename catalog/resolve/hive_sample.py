"""A bounded sample of a Hive table's rows over HiveServer2, e.g. the reference a model monitor compares a
deployment's predictions with (the training table of its build).

``sample_table(config, "db.table@cluster")`` describes the table, then runs::

    SELECT `c1`, `c2`, ... FROM `db`.`table` ORDER BY rand(<seed>) LIMIT <limit>

on the same connection. That is a **uniform random sample without replacement** of ``limit`` rows when the table
has more (every row gets an independent uniform key and the ``limit`` smallest keys are kept), and the whole table,
in random order, when it has fewer. It is a full scan of the table (fine for a training table; Spark keeps only the
top ``limit`` rows per task). The same ``seed`` over the same files gives the same sample; it is not reproducible
once the data (or how Spark splits it) changes.

Names are validated and backtick-quoted exactly as :class:`~catalog.resolve.hive.HiveResolver` does, before
anything is sent; errors are :mod:`catalog.resolve.errors` (:class:`HiveUnavailable` for a server that cannot be
reached or answer within ``HiveConfig.timeout_s`` per call -- a large table may need a longer timeout than a
describe does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalog.resolve.errors import ColumnNotFound, HiveUnexpectedOutput, InvalidSampleRequest
from catalog.resolve.hive import ConnectFn, HiveConfig, HiveResolver
from catalog.resolve.identifiers import quote, split_table_name, validate_identifier
from catalog.resolve.models import HiveTableInfo

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "HiveSampler", "TableSample", "sample_table"]

DEFAULT_LIMIT = 10_000
#: The most rows a sample holds: it is fetched into memory.
MAX_LIMIT = 1_000_000
_SEED_BOUND = 2**31  # Hive's rand(INT seed); Spark takes any long


class TableSample(BaseModel):
    """Rows of a table: at most ``limit`` of them, a uniform random sample when the table has more."""

    model_config = ConfigDict(frozen=True)

    qualified_name: str = Field(description='"db.table@cluster" as given')
    columns: list[str] = Field(description="column names as HiveServer2 reports them (lower-cased), in table order "
                                           "(partition keys last) or as asked for")
    types: list[str] = Field(description="their Hive types, e.g. double, decimal(10,2), array<string>")
    rows: list[tuple[Any, ...]] = Field(description="values as PyHive returns them, one per column")
    total_rows: int | None = Field(description="the table's row count: exact when the sample holds the whole "
                                               "table, else the metastore's numRows statistic if it has one "
                                               "(it can be stale), else None")


class HiveSampler(HiveResolver):
    """A :class:`HiveResolver` that also samples tables (describe and sample on one connection)."""

    def sample(self, qualified_name: str, *, limit: int = DEFAULT_LIMIT, columns: Sequence[str] | None = None,
               seed: int = 0) -> TableSample:
        """See :func:`sample_table`."""
        limit, seed = _checked(limit, seed)
        db, table = split_table_name(qualified_name)
        wanted = None if columns is None else _column_names(columns)
        info = self.describe_table(db, table)
        known = {c.name: c.type for c in [*info.columns, *info.partition_keys]}
        if wanted is None:
            wanted = list(known)
        for name in wanted:
            if name not in known:
                raise ColumnNotFound(db, table, name)
        sql = (f"SELECT {', '.join(quote(c) for c in wanted)} FROM {quote(db)}.{quote(table)} "
               f"ORDER BY rand({seed}) LIMIT {limit}")
        rows = self._table_query(sql, db, table)
        for row in rows:
            if len(row) != len(wanted):
                raise HiveUnexpectedOutput(f"{db}.{table}: a sampled row has {len(row)} values for "
                                           f"{len(wanted)} columns")
        return TableSample(qualified_name=qualified_name, columns=wanted, types=[known[c] for c in wanted],
                           rows=rows, total_rows=_total_rows(info, len(rows), limit))


def sample_table(config: HiveConfig, qualified_name: str, *, limit: int = DEFAULT_LIMIT,
                 columns: Sequence[str] | None = None, seed: int = 0, connect: ConnectFn | None = None
                 ) -> TableSample:
    """At most ``limit`` rows of the table Atlas names ``db.table@cluster`` (or ``db.table``): a uniform random
    sample without replacement (``ORDER BY rand(seed) LIMIT limit``, a full scan) when it has more rows, else all
    of them in random order. ``columns`` restricts the columns read (names validated, matched case-insensitively,
    returned in the order given). One connection, opened and closed here; ``connect`` replaces
    :func:`~catalog.resolve.hive.pyhive_connect` (tests).

    Raises :class:`InvalidIdentifier` / :class:`InvalidSampleRequest` before anything is sent,
    :class:`DatabaseNotFound`, :class:`TableNotFound`, :class:`ColumnNotFound`, :class:`HiveQueryFailed`, and
    :class:`HiveUnavailable` for a server that cannot be reached or does not answer in time.
    """
    with HiveSampler(config, connect=connect) as sampler:
        return sampler.sample(qualified_name, limit=limit, columns=columns, seed=seed)


def _checked(limit: object, seed: object) -> tuple[int, int]:
    """``limit`` and ``seed`` as the ints that go into the SQL text (bool is not an int here)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidSampleRequest(f"sample limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not -_SEED_BOUND <= seed < _SEED_BOUND:
        raise InvalidSampleRequest(f"sample seed must be a 32-bit integer, not {seed!r}")
    return int(limit), int(seed)


def _column_names(columns: Sequence[str]) -> list[str]:
    if isinstance(columns, str):  # a str is a Sequence[str] too: "abc" is not three columns
        raise InvalidSampleRequest(f"columns must be a list of names, not the string {columns!r}")
    names = list(dict.fromkeys(validate_identifier(c, "column name") for c in columns))
    if not names:
        raise InvalidSampleRequest("no column to sample: columns is empty (None reads them all)")
    return names


def _total_rows(info: HiveTableInfo, sampled: int, limit: int) -> int | None:
    if sampled < limit:
        return sampled  # the whole table
    try:
        stat = int(info.parameters.get("numRows", ""))
    except ValueError:
        return None
    return stat if stat >= sampled else None  # Hive writes -1 when unknown; fewer than read: stale
