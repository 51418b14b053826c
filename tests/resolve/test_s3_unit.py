"""S3Resolver without an S3 server: URI parsing, error mapping by fault injection (botocore's Stubber),
and a real closed port for "endpoint down"."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from catalog.resolve import (
    BucketNotFound,
    InvalidS3Uri,
    MissingDependency,
    PrefixNotFound,
    S3Config,
    S3RequestFailed,
    S3Resolver,
    S3Unavailable,
)
from catalog.resolve.s3 import parse_s3_uri
from tests.integration_servers import free_ports


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3a://wine-bucket/wine/data/", ("s3a", "wine-bucket", "wine/data/")),
        ("s3://wine-bucket/wine/data", ("s3", "wine-bucket", "wine/data")),
        ("S3A://wine-bucket", ("s3a", "wine-bucket", "")),
        ("s3n://b.with.dots/a//b", ("s3n", "b.with.dots", "a//b")),
        ("s3://wine-bucket//lead", ("s3", "wine-bucket", "lead")),
        ("s3://wine-bucket/a b?c#d", ("s3", "wine-bucket", "a b?c#d")),  # keys may hold these
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    ["", "wine-bucket/x", "http://wine-bucket/x", "s3:/wine-bucket/x", "s3:///x", "s3://b/x", "s3://bad bucket/x",
     "file:/tmp/x", "hdfs://nn/x"],
)
def test_invalid_uris(uri: str) -> None:
    with pytest.raises(InvalidS3Uri) as ei:
        S3Resolver(S3Config()).describe_prefix(uri)
    assert ei.value.code == "s3.invalid_uri"


def _stubbed() -> tuple[S3Resolver, Stubber]:
    client = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1").client(
        "s3", endpoint_url="http://127.0.0.1:9"
    )
    return S3Resolver(S3Config(endpoint_url="http://127.0.0.1:9"), client=client), Stubber(client)


@pytest.mark.parametrize(
    ("code", "status", "expected", "text"),
    [
        ("404", 404, BucketNotFound, "'wine-bucket' does not exist"),
        ("NoSuchBucket", 404, BucketNotFound, "does not exist"),
        ("403", 403, S3Unavailable, "access denied"),
        ("InvalidAccessKeyId", 403, S3Unavailable, "access denied"),
        ("InternalError", 500, S3Unavailable, "server error"),
        ("503", 503, S3Unavailable, "server error"),
        ("InvalidBucketName", 400, S3RequestFailed, "InvalidBucketName"),
    ],
)
def test_head_bucket_faults(code: str, status: int, expected: type[Exception], text: str) -> None:
    r, stub = _stubbed()
    stub.add_client_error("head_bucket", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(expected) as ei:
        r.describe_prefix("s3a://wine-bucket/wine/data")
    assert text in str(ei.value)
    assert "\n" not in str(ei.value)
    assert "http://127.0.0.1:9" in str(ei.value) or expected is BucketNotFound


def test_listing_fault_after_head_bucket() -> None:
    r, stub = _stubbed()
    stub.add_response("head_bucket", {}, {"Bucket": "wine-bucket"})
    stub.add_client_error("list_objects_v2", service_error_code="SlowDown", http_status_code=503)
    with stub, pytest.raises(S3Unavailable):
        r.describe_prefix("s3a://wine-bucket/wine/data")


def _listing(prefix: str) -> dict[str, object]:
    """The ListObjectsV2 parameters the resolver must send for ``prefix``."""
    return {"Bucket": "b-1", "Prefix": prefix, "MaxKeys": 1000}


def test_stats_markers_and_single_object_fallback() -> None:
    t1 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    t2 = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    r, stub = _stubbed()
    stub.add_response("head_bucket", {}, {"Bucket": "b-1"})
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "d/", "Size": 0, "LastModified": t2},
                      {"Key": "d/x", "Size": 3, "LastModified": t1},
                      {"Key": "d/y/z", "Size": 4, "LastModified": t1}], "KeyCount": 3, "IsTruncated": False},
        _listing("d/"),
    )
    # a key that is a single object, not a directory
    stub.add_response("head_bucket", {}, {"Bucket": "b-1"})
    stub.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False}, _listing("f.csv/"))
    stub.add_response("head_object", {"ContentLength": 9, "LastModified": t2}, {"Bucket": "b-1", "Key": "f.csv"})
    # nothing at all
    stub.add_response("head_bucket", {}, {"Bucket": "b-1"})
    stub.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False}, _listing("no/"))
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    with stub:
        info = r.describe_prefix("s3://b-1/d")
        assert (info.object_count, info.total_size_bytes) == (2, 7)  # the marker is not an object
        assert info.newest_modified_ms == int(t1.timestamp() * 1000)
        assert info.kind == "prefix"
        one = r.describe_prefix("s3a://b-1/f.csv")
        assert (one.object_count, one.total_size_bytes, one.newest_modified_ms) == (1, 9, int(t2.timestamp() * 1000))
        assert one.kind == "object"  # recorded as an object, not as a directory "f.csv/"
        with pytest.raises(PrefixNotFound) as ei:
            r.describe_prefix("s3a://b-1/no")
        assert ei.value.code == "s3.prefix_not_found"
        stub.assert_no_pending_responses()


def test_closed_port_is_unavailable_quickly() -> None:
    (port,) = free_ports(1)
    t0 = time.monotonic()
    cfg = S3Config(endpoint_url=f"http://127.0.0.1:{port}", access_key_id="a", secret_access_key="b", timeout_s=2)
    with S3Resolver(cfg) as r, pytest.raises(S3Unavailable) as ei:
        r.describe_prefix("s3a://wine-bucket/wine/data")
    assert time.monotonic() - t0 < 5
    assert ei.value.code == "s3.unavailable"
    assert f"127.0.0.1:{port}" in str(ei.value)
    assert "\n" not in str(ei.value)


def test_secret_is_not_in_repr() -> None:
    cfg = S3Config(endpoint_url="http://127.0.0.1:9", access_key_id="ak", secret_access_key="very-secret")
    assert "very-secret" not in repr(cfg) and "very-secret" not in str(cfg)


@pytest.mark.parametrize("url", ["127.0.0.1:8333", "ftp://h", "http://h/path", "http://", "http://a b"])
def test_endpoint_must_be_an_http_origin(url: str) -> None:
    with pytest.raises(ValidationError):
        S3Config(endpoint_url=url)
    assert S3Config(endpoint_url="http://127.0.0.1:8333/").endpoint_url == "http://127.0.0.1:8333"


def test_missing_boto3_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with S3Resolver(S3Config(endpoint_url="http://127.0.0.1:9")) as r, pytest.raises(MissingDependency) as ei:
        r.describe_prefix("s3a://wine-bucket/x")
    assert (ei.value.code, ei.value.module) == ("resolve.missing_dependency", "boto3")
