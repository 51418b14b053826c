"""Resolve catalog references against live systems: Hive tables through HiveServer2, S3 prefixes through S3.

* :class:`HiveResolver` / :class:`HiveConfig` -> :class:`HiveTableInfo` (``describe_table(db, table)``).
* :class:`S3Resolver` / :class:`S3Config` -> :class:`S3PrefixInfo` (``describe_prefix("s3a://bucket/prefix")``).
* :func:`sample_table` -> :class:`TableSample`: a bounded uniform random sample of a Hive table's rows.
* Every failure is a :class:`ResolveError` with a stable ``.code`` and a one-line message.

The client libraries (PyHive + thrift, boto3) are imported only when a connection is made.
"""

from catalog.resolve.errors import (
    BucketNotFound,
    ColumnNotFound,
    DatabaseNotFound,
    HiveQueryFailed,
    HiveUnavailable,
    HiveUnexpectedOutput,
    InvalidIdentifier,
    InvalidS3Uri,
    InvalidSampleRequest,
    MissingDependency,
    PrefixNotFound,
    ResolveError,
    S3RequestFailed,
    S3Unavailable,
    TableNotFound,
)
from catalog.resolve.hive import HiveConfig, HiveResolver
from catalog.resolve.hive_sample import TableSample, sample_table
from catalog.resolve.models import HiveColumn, HiveTableInfo, S3PrefixInfo
from catalog.resolve.s3 import S3Config, S3Resolver

__all__ = [
    "BucketNotFound",
    "ColumnNotFound",
    "DatabaseNotFound",
    "HiveColumn",
    "HiveConfig",
    "HiveQueryFailed",
    "HiveResolver",
    "HiveTableInfo",
    "HiveUnavailable",
    "HiveUnexpectedOutput",
    "InvalidIdentifier",
    "InvalidS3Uri",
    "InvalidSampleRequest",
    "MissingDependency",
    "PrefixNotFound",
    "ResolveError",
    "S3Config",
    "S3PrefixInfo",
    "S3RequestFailed",
    "S3Resolver",
    "S3Unavailable",
    "TableNotFound",
    "TableSample",
    "sample_table",
]
