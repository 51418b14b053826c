"""Resolve ``s3://`` / ``s3a://`` locations against a live S3 API (AWS or a compatible server) through boto3.

``S3Resolver.describe_prefix(uri)`` checks the bucket (``HeadBucket``) and sums the objects under the prefix
(``ListObjectsV2``, paginated). The key part of the URI is a directory: ``s3a://b/wine/data`` covers
``wine/data/...`` but not ``wine/data_old/...``; if nothing is under it, a single object with exactly that key
counts (a table location may name one file), and the result's ``kind`` says it is an object. Directory markers
(zero-byte keys ending in ``/``, as s3a writes for an empty directory) prove the prefix exists but are not counted
as objects.

Needs ``boto3``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.resolve.errors import (
    BucketNotFound,
    InvalidS3Uri,
    MissingDependency,
    PrefixNotFound,
    S3RequestFailed,
    S3Unavailable,
)
from catalog.resolve.models import S3Kind, S3PrefixInfo

__all__ = ["S3Config", "S3PrefixInfo", "S3Resolver", "S3Scheme", "parse_s3_uri"]

S3Scheme = Literal["s3", "s3a", "s3n"]
_SCHEMES: tuple[S3Scheme, ...] = ("s3", "s3a", "s3n")
# Lenient on purpose (legacy buckets may have upper case / '_'); S3 itself rejects what is truly invalid.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
               "InvalidSecurity", "AuthorizationHeaderMalformed", "403", "401"}
_SERVER_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


class S3Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: None = AWS (region endpoint); e.g. ``http://127.0.0.1:8333`` for a local S3-compatible server.
    endpoint_url: str | None = None
    #: None = boto3's default credential chain (env, ~/.aws, instance role...).
    access_key_id: str | None = None
    #: Kept out of repr().
    secret_access_key: str | None = Field(default=None, repr=False)
    region: str = "us-east-1"
    #: Path-style addressing; None = path style when ``endpoint_url`` is set, else virtual-hosted.
    path_style: bool | None = None
    #: Connect and read timeout of each request.
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: Total attempts per request (1 = no retry).
    max_attempts: int = Field(default=2, ge=1, le=10)
    #: Keys per ListObjectsV2 page (S3 caps it at 1000).
    page_size: int = Field(default=1000, ge=1, le=1000)

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s/?#]+/?", v):
            raise ValueError("endpoint_url must be http(s)://host[:port]")
        return v.rstrip("/") if v else v

    @property
    def endpoint_label(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"


def parse_s3_uri(uri: str) -> tuple[S3Scheme, str, str]:
    """``s3a://bucket/a/b`` -> ``("s3a", "bucket", "a/b")``. Only the scheme and bucket are checked."""
    if not isinstance(uri, str):
        raise InvalidS3Uri(str(uri), "not a string")
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise InvalidS3Uri(uri, f"scheme must be one of {', '.join(s + '://' for s in _SCHEMES)}")
    bucket, _, key = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidS3Uri(uri, f"bad bucket name {bucket!r}")
    return cast(S3Scheme, scheme.lower()), bucket, key.lstrip("/")


def _error_code(exc: Any) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


class S3Resolver:
    """Describe S3 prefixes through one lazily created boto3 client. Use as a context manager."""

    def __init__(self, config: S3Config, *, client: Any = None) -> None:
        self.config = config
        self._client: Any = client

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        close = getattr(client, "close", None)
        if callable(close):
            close()

    # -- public API -----------------------------------------------------------------------------------------
    def describe_prefix(self, uri: str) -> S3PrefixInfo:
        """Object count, total size and newest modification time under ``uri`` (``kind`` "object" when it names
        a single object rather than a prefix)."""
        scheme, bucket, key = parse_s3_uri(uri)
        with self._mapped_errors(bucket):
            client = self._s3()
            client.head_bucket(Bucket=bucket)

        directory = key if key == "" or key.endswith("/") else key + "/"
        count = size = 0
        newest: int | None = None
        seen = False
        kind: S3Kind = "prefix"
        with self._mapped_errors(bucket):
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=directory, PaginationConfig={"PageSize": self.config.page_size}
            ):
                for obj in page.get("Contents") or []:
                    seen = True
                    obj_size = int(obj.get("Size", 0))
                    if str(obj["Key"]).endswith("/") and obj_size == 0:
                        continue  # directory marker
                    count += 1
                    size += obj_size
                    newest = _max_ms(newest, obj["LastModified"])
            if not seen and directory != key:
                head = self._head_object(client, bucket, key)
                if head is not None:
                    seen, count, size, kind = True, 1, int(head.get("ContentLength", 0)), "object"
                    newest = _max_ms(None, head["LastModified"])
        if not seen:
            raise PrefixNotFound(bucket, key)
        return S3PrefixInfo(scheme=scheme, bucket=bucket, prefix=key, object_count=count, total_size_bytes=size,
                            newest_modified_ms=newest, kind=kind)

    # -- plumbing -------------------------------------------------------------------------------------------
    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as e:
                raise MissingDependency(e.name or "boto3", "pip install boto3") from None

            cfg = self.config
            path_style = cfg.path_style if cfg.path_style is not None else cfg.endpoint_url is not None
            session = boto3.session.Session(
                aws_access_key_id=cfg.access_key_id,
                aws_secret_access_key=cfg.secret_access_key,
                region_name=cfg.region,
            )
            self._client = session.client(
                "s3",
                endpoint_url=cfg.endpoint_url,
                config=Config(
                    connect_timeout=cfg.timeout_s,
                    read_timeout=cfg.timeout_s,
                    retries={"total_max_attempts": cfg.max_attempts, "mode": "standard"},
                    s3={"addressing_style": "path" if path_style else "auto"},
                    signature_version="s3v4",
                ),
            )
        return self._client

    @staticmethod
    def _head_object(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
        """HeadObject, or None for a missing key (other failures propagate to the caller's mapping)."""
        from botocore.exceptions import ClientError

        try:
            return cast(dict[str, Any], client.head_object(Bucket=bucket, Key=key))
        except ClientError as e:
            code, status = _error_code(e)
            if status == 404 and code != "NoSuchBucket":
                return None
            raise

    @contextmanager
    def _mapped_errors(self, bucket: str) -> Iterator[None]:
        """Map boto3 failures inside the block onto resolver errors (one-line messages)."""
        from botocore.exceptions import BotoCoreError, ClientError

        endpoint = self.config.endpoint_label
        try:
            yield
        except ClientError as e:
            code, status = _error_code(e)
            if code == "NoSuchBucket" or status == 404:
                raise BucketNotFound(bucket) from None
            if code in _AUTH_CODES or status in (401, 403):
                raise S3Unavailable(endpoint, f"access denied ({code or status}): check the credentials") from None
            if status >= 500 or code in _SERVER_CODES:
                raise S3Unavailable(endpoint, f"server error ({code or status})") from None
            raise S3RequestFailed(endpoint, f"{code or status}: {e}") from None
        except BotoCoreError as e:
            raise S3Unavailable(endpoint, f"{type(e).__name__}: {e}") from None


def _max_ms(current: int | None, modified: datetime) -> int:
    ms = int(modified.timestamp() * 1000)
    return ms if current is None or ms > current else current
