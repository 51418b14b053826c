"""S3Resolver against a REAL S3 server (SeaweedFS ``weed mini``, SigV4 auth)."""

from __future__ import annotations

import pytest

from catalog.resolve import BucketNotFound, PrefixNotFound, S3Config, S3Resolver, S3Unavailable

from .conftest import Uploaded
from .wine import STATS_OBJECTS, WINE_BUCKET, WINE_OBJECTS

pytestmark = pytest.mark.slow


def _sizes(objects: dict[str, bytes], prefix: str) -> list[int]:
    return [len(b) for k, b in objects.items() if k.startswith(prefix) and not k.endswith("/")]


@pytest.mark.parametrize(
    "uri",
    [f"s3a://{WINE_BUCKET}/wine/data/", f"s3a://{WINE_BUCKET}/wine/data", f"s3://{WINE_BUCKET}/wine/data/"],
)
def test_prefix_stats_are_exact(s3_resolver: S3Resolver, wine_objects: Uploaded, uri: str) -> None:
    info = s3_resolver.describe_prefix(uri)
    assert info.bucket == WINE_BUCKET
    assert info.scheme == uri.split("://")[0]
    assert info.prefix == uri.split(WINE_BUCKET + "/")[1]
    assert info.object_count == len(WINE_OBJECTS) == 3
    assert info.kind == "prefix"
    assert info.total_size_bytes == sum(len(b) for b in WINE_OBJECTS.values())
    assert info.newest_modified_ms is not None
    last_before, last_after = max(wine_objects.put_times[k] for k in WINE_OBJECTS)
    assert last_before - 2 <= info.newest_modified_ms / 1000 <= last_after + 2  # ±2 s (S3 keeps whole seconds)


def test_nested_keys_count_but_sibling_prefix_does_not(s3_resolver: S3Resolver, wine_objects: Uploaded) -> None:
    info = s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/stats")
    expected = _sizes(STATS_OBJECTS, "stats/")
    assert (info.object_count, info.total_size_bytes) == (len(expected), sum(expected)) == (3, 3210)
    assert info.newest_modified_ms is not None
    last_before, last_after = max(wine_objects.put_times[k] for k in STATS_OBJECTS if k.startswith("stats/"))
    assert last_before - 2 <= info.newest_modified_ms / 1000 <= last_after + 2


def test_whole_bucket(s3_resolver: S3Resolver, wine_objects: Uploaded) -> None:
    info = s3_resolver.describe_prefix(f"s3://{WINE_BUCKET}")
    uploaded = [len(b) for k, b in wine_objects.objects.items() if not k.endswith("/")]
    # Spark may add its own objects (the parquet table written through s3a) when the Hive tests ran first.
    assert info.object_count >= len(uploaded)
    assert info.total_size_bytes >= sum(uploaded)


def test_pagination_gives_the_same_totals(s3_config: S3Config, wine_objects: Uploaded) -> None:
    with S3Resolver(s3_config.model_copy(update={"page_size": 1})) as r:
        info = r.describe_prefix(f"s3a://{WINE_BUCKET}/stats/")
    assert (info.object_count, info.total_size_bytes) == (3, 3210)


def test_single_object_uri(s3_resolver: S3Resolver) -> None:
    info = s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/stats/sub/b.csv")
    assert (info.object_count, info.total_size_bytes, info.kind) == (1, 200, "object")
    assert info.newest_modified_ms is not None
    # The same key as a directory ("b.csv/") is not the object.
    with pytest.raises(PrefixNotFound):
        s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/stats/sub/b.csv/")


def test_directory_marker_only_exists_with_zero_objects(s3_resolver: S3Resolver) -> None:
    info = s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/markers/empty")
    assert (info.object_count, info.total_size_bytes, info.newest_modified_ms, info.kind) == (0, 0, None, "prefix")


def test_missing_prefix(s3_resolver: S3Resolver) -> None:
    with pytest.raises(PrefixNotFound) as ei:
        s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/wine/nothing-here/")
    assert (ei.value.code, ei.value.bucket, ei.value.prefix) == ("s3.prefix_not_found", WINE_BUCKET,
                                                                 "wine/nothing-here/")
    with pytest.raises(PrefixNotFound):
        s3_resolver.describe_prefix(f"s3a://{WINE_BUCKET}/wine/dat")  # a key prefix, not a directory


def test_missing_bucket(s3_resolver: S3Resolver) -> None:
    with pytest.raises(BucketNotFound) as ei:
        s3_resolver.describe_prefix("s3a://no-such-bucket-mlc/wine/data")
    assert (ei.value.code, ei.value.bucket) == ("s3.bucket_not_found", "no-such-bucket-mlc")


@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key"])
def test_wrong_credentials_are_unavailable(s3_config: S3Config, field: str) -> None:
    bad = S3Config.model_validate({**s3_config.model_dump(), field: "wrong-" + field})
    with S3Resolver(bad) as r, pytest.raises(S3Unavailable) as ei:
        r.describe_prefix(f"s3a://{WINE_BUCKET}/wine/data")
    assert ei.value.code == "s3.unavailable"
    assert "access denied" in str(ei.value)
    assert s3_config.endpoint_url is not None and s3_config.endpoint_url in str(ei.value)
