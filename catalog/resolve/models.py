"""What the resolvers return: frozen pydantic models (the boundary to the catalog and its API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HiveColumn", "HiveTableInfo", "HiveTableType", "S3Kind", "S3PrefixInfo"]

#: Hive metastore table types (Atlas ``hive_table.tableType`` uses the same strings).
HiveTableType = Literal["MANAGED_TABLE", "EXTERNAL_TABLE", "VIRTUAL_VIEW", "MATERIALIZED_VIEW"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HiveColumn(_Frozen):
    """A column or partition key; ``position`` is 0-based within its own list (as Atlas ``hive_column``).

    ``name`` is lower-cased (as the Hive metastore and Atlas keep it); ``type`` is as the server reports it.
    """

    name: str
    type: str
    comment: str | None = None
    position: int = Field(ge=0)


class HiveTableInfo(_Frozen):
    """One table or view as HiveServer2 describes it. ``db`` and ``table`` are lower-cased, like Atlas names."""

    db: str
    table: str
    columns: list[HiveColumn]
    #: Never repeated in ``columns`` (Spark lists them there too; the parser removes them).
    partition_keys: list[HiveColumn] = Field(default_factory=list)
    table_type: HiveTableType
    #: As the metastore reports it, e.g. ``s3a://bucket/path`` or ``file:/path`` (no trailing slash); None for views.
    location: str | None = None
    owner: str | None = None
    create_time_ms: int | None = None
    input_format: str | None = None
    output_format: str | None = None
    serde: str | None = None
    #: Spark's data source (``hive``, ``parquet``, ``csv``...); None on Apache Hive. For non-``hive`` providers
    #: Spark's serde/input/output formats are placeholders: trust ``provider``.
    provider: str | None = None
    #: Table properties / parameters (``transient_lastDdlTime``, ``EXTERNAL``...).
    parameters: dict[str, str] = Field(default_factory=dict)
    #: Storage descriptor properties (``field.delim``, ``serialization.format``...).
    storage_parameters: dict[str, str] = Field(default_factory=dict)
    comment: str | None = None
    #: The view's SQL as written (views only).
    view_text: str | None = None

    @property
    def name(self) -> str:
        """``db.table``."""
        return f"{self.db}.{self.table}"

    def qualified_name(self, namespace: str) -> str:
        """Atlas ``hive_table`` qualifiedName: ``db.table@namespace`` (names lower-cased, namespace kept)."""
        return f"{self.db}.{self.table}@{namespace}"


#: What an S3 URI named: a prefix (a directory, possibly holding only a marker) or exactly one object.
S3Kind = Literal["prefix", "object"]


class S3PrefixInfo(_Frozen):
    """Objects under an S3 prefix (directory markers, i.e. zero-byte keys ending in ``/``, are not counted), or the
    single object the URI names (``kind == "object"``: nothing was under it as a directory, its key exists)."""

    scheme: Literal["s3", "s3a", "s3n"]
    bucket: str
    #: The key part of the URI as given (no leading ``/``); ``""`` for a whole bucket.
    prefix: str
    #: The catalog records an object as an ``aws_s3_v2_object``, not as a directory named after it.
    kind: S3Kind = "prefix"
    object_count: int = Field(ge=0)
    total_size_bytes: int = Field(ge=0)
    #: Newest ``LastModified`` in epoch milliseconds; None when only directory markers exist.
    newest_modified_ms: int | None = None

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"
