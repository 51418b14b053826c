"""S3 sources that name an object are recorded as aws_s3_v2_object in their directory chain, not as a directory.

Against the embedded store: declared sources (no S3 endpoint), and sources a stand-in resolver describes (the real
S3Resolver's answers are checked against SeaweedFS in tests/resolve and tests/sync/test_build_real_servers.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from catalog.errors import NotFound
from catalog.queries import CatalogQueries, split_s3_namespace
from catalog.resolve.errors import PrefixNotFound
from catalog.resolve.models import S3PrefixInfo
from catalog.resolve.s3 import parse_s3_uri
from catalog.sync.builder import DeploymentInput, looks_like_object, s3_type
from catalog.sync.engine import Catalog, SyncResult
from tests.sync.conftest import CountingClient, commit_file

MODEL = "wine from files"
MODIFIED = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
MODIFIED_MS = int(MODIFIED.timestamp() * 1000)


def lineage(*sources: str) -> str:
    return json.dumps({MODEL: {"s3_sources": list(sources), "metadata": {"training_file": "fit.py"}}}, indent=2)


def _qns(refs: list[Any]) -> set[str]:
    return {r.qualified_name for r in refs}


def _entity(client: CountingClient, type_name: str, qn: str) -> Any:
    found = client.find_entity(type_name, qn)
    assert found is not None, f"{type_name} {qn} not in Atlas"
    assert found.type_name == type_name, (found.type_name, qn)  # not a subtype that shares the name
    return found


class FakeS3:
    """Answers describe_prefix as the S3Resolver does, from a fixed table: uri -> (kind, size) or absent."""

    def __init__(self, known: dict[str, tuple[str, int]]) -> None:
        self.known = known

    def describe_prefix(self, uri: str) -> S3PrefixInfo:
        scheme, bucket, key = parse_s3_uri(uri)
        if uri not in self.known:
            raise PrefixNotFound(bucket, key)
        kind, size = self.known[uri]
        return S3PrefixInfo(scheme=scheme, bucket=bucket, prefix=key, object_count=1 if kind == "object" else 3,
                            total_size_bytes=size, newest_modified_ms=MODIFIED_MS,
                            kind="object" if kind == "object" else "prefix")


@pytest.mark.parametrize(
    ("key", "expected"),
    [("data/wine.csv", True), ("wine.csv", True), ("raw/part-00000.snappy.parquet", True), ("models/m.h5", True),
     ("data/wine.csv/", False), ("raw/2020-05-11", False), ("release/v1.2", False), ("a/.staging", False),
     ("raw/", False), ("raw", False), ("", False), ("x.", False)],
)
def test_what_looks_like_an_object(key: str, expected: bool) -> None:
    assert looks_like_object(key) is expected


@pytest.mark.parametrize(
    ("qn", "type_name"),
    [("s3a://b-1@cm", "aws_s3_v2_bucket"), ("s3a://b-1/a/@cm", "aws_s3_v2_directory"),
     ("s3a://b-1/a/x.csv@cm", "aws_s3_v2_object"), ("s3://b-1/u@x/y.csv@cm", "aws_s3_v2_object"),
     ("s3://b-1/u@x/@cm", "aws_s3_v2_directory")],
)
def test_s3_type_of_a_qualified_name(qn: str, type_name: str) -> None:
    assert s3_type(qn) == type_name


@pytest.mark.parametrize(
    ("qn", "parts"),
    [("s3a://b-1/dir/@cm", ("s3a://b-1/dir/", "cm")), ("s3a://b-1/x.csv", ("s3a://b-1/x.csv", None)),
     ("s3a://b-1@cm", ("s3a://b-1", "cm")), ("s3a://b-1/u@x/y.csv", ("s3a://b-1/u@x/y.csv", None))],
)
def test_split_s3_namespace(qn: str, parts: tuple[str, str | None]) -> None:
    assert split_s3_namespace(qn) == parts


def test_declared_object_is_an_object_in_its_directory_chain(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    bucket = "declared-objects"
    obj, prefix, dated = (f"s3a://{bucket}/data/wine.csv", f"s3a://{bucket}/raw/2024/",
                          f"s3://{bucket}/raw/2020-05-11")
    repo = make_project(lineage(obj, prefix, dated), name="declared-objects")
    res = catalog.build(repo)
    assert "no S3 endpoint configured: S3 sources are recorded as declared" in res.notes

    wine = _entity(client, "aws_s3_v2_object", f"{obj}@cm")
    assert (wine.attributes["name"], wine.attributes["bucketName"]) == ("wine.csv", bucket)
    assert "size" not in wine.attributes and "lastModifiedTime" not in wine.attributes  # nothing known of it
    assert _qns(wine.relationships["container"]) == {f"s3a://{bucket}/data/@cm"}
    data = _entity(client, "aws_s3_v2_directory", f"s3a://{bucket}/data/@cm")
    assert _qns(data.relationships["container"]) == {f"s3a://{bucket}@cm"}
    assert client.find_entity("aws_s3_v2_directory", f"{obj}/@cm") is None  # no directory named after the file
    # Prefixes, and keys that do not look like files, stay directories.
    _entity(client, "aws_s3_v2_directory", f"{prefix}@cm")
    _entity(client, "aws_s3_v2_directory", f"{dated}/@cm")

    (b,) = res.builds
    train = _entity(client, "ml_model_train_build_process", f"{b.build_crn}:train")
    assert _qns(train.relationships["inputs"]) == {f"{obj}@cm", f"{prefix}@cm", f"{dated}/@cm", res.project_crn}

    before = client.write_requests
    again = catalog.build(repo)
    assert client.write_requests == before and (again.creates, again.updates) == (0, 0)


def test_object_in_a_bucket_root(make_project: Callable[..., Path], catalog: Catalog,
                                 client: CountingClient) -> None:
    repo = make_project(lineage("s3://root-objects/wine.csv"), name="root-object")
    catalog.build(repo)
    wine = _entity(client, "aws_s3_v2_object", "s3://root-objects/wine.csv@cm")
    assert _qns(wine.relationships["container"]) == {"s3://root-objects@cm"}


def _deploy(catalog: Catalog, res: SyncResult, name: str) -> str:
    (b,) = res.builds
    crn = b.build_crn.rsplit("/", 1)[0] + f"/{name}"
    catalog.record_deployment(DeploymentInput(
        crn=crn, build_crn=b.build_crn, model_crn=b.model_crn, model_name=b.model_name, name=name,
        status="deployed", create_time_ms=1, deployed_time_ms=2, cpu_millicores=500))
    return crn


def test_impact_of_an_object_and_of_what_holds_it(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    repo = make_project(lineage("s3a://impact-objects/data/wine.csv"), name="impact-objects")
    res = catalog.build(repo)
    deployment = _deploy(catalog, res, "dep-objects")
    queries = CatalogQueries(client)
    for given in [
        "s3a://impact-objects/data/wine.csv",  # the object, without namespace
        "s3a://impact-objects/data/wine.csv@cm",  # its qualifiedName
        "s3a://impact-objects/data/",  # a prefix holding it
        "s3a://impact-objects/data",
        "s3a://impact-objects/data/@cm",  # the directory holding it
        "s3a://impact-objects@cm",  # its bucket
        "s3a://impact-objects",
    ]:
        impact = queries.impact(given)
        assert [b.crn for b in impact.builds] == [res.builds[0].build_crn], given
        assert [d.crn for d in impact.deployments] == [deployment], given
    # A key that merely starts with the same characters is not inside: "wine" is not "wine.csv".
    for given in ["s3a://impact-objects/data/wine", "s3a://impact-objects/data/wine.csv/", "s3a://impact-objects/dat",
                  "s3a://impact-objects/data/wine.csv@other", "s3a://impact-objects/data/@other"]:
        with pytest.raises(NotFound):
            queries.impact(given)


def test_resolved_object_records_size_and_time_and_a_declared_rebuild_keeps_them(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    bucket = "resolved-objects"
    obj, spark_dir, readme = (f"s3a://{bucket}/data/wine.csv", f"s3a://{bucket}/out/scores.csv",
                              f"s3a://{bucket}/data/README")
    s3 = FakeS3({obj: ("object", 1234), spark_dir: ("prefix", 999), readme: ("object", 10)})
    resolving = Catalog(client, catalog.scope, catalog.namespace, s3=s3)
    repo = make_project(lineage(obj, spark_dir, readme), name="resolved-objects")
    res = resolving.build(repo)
    assert res.notes == []

    wine = _entity(client, "aws_s3_v2_object", f"{obj}@cm")
    assert (wine.attributes["size"], wine.attributes["lastModifiedTime"]) == (1234, MODIFIED_MS)
    # What S3 says wins over the name: Spark's "scores.csv" is a directory, an extension-less key an object.
    _entity(client, "aws_s3_v2_directory", f"{spark_dir}/@cm")
    assert client.find_entity("aws_s3_v2_object", f"{spark_dir}@cm") is None
    assert _entity(client, "aws_s3_v2_object", f"{readme}@cm").attributes["size"] == 10
    build = _entity(client, "ml_model_build", res.builds[0].build_crn)
    assert build.attributes["metadata"][f"s3 {obj}"] == "objects=1 bytes=1234 newest=2026-03-01T12:30:00Z"

    before = client.write_requests
    resolving.build(repo)
    assert client.write_requests == before  # the date and size read back compare equal

    s3.known[obj] = ("object", 2048)  # the file was replaced: the object is updated, nothing else
    client.written_specs.clear()
    changed = resolving.build(repo)
    assert [(s.type_name, s.qualified_name) for s in client.written_specs] == [("aws_s3_v2_object", f"{obj}@cm")]
    assert changed.updates == 1
    assert _entity(client, "aws_s3_v2_object", f"{obj}@cm").attributes["size"] == 2048


def test_unresolved_object_with_allow_unresolved_is_declared_as_an_object(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    obj = "s3a://unresolved-objects/data/missing.parquet"
    resolving = Catalog(client, catalog.scope, catalog.namespace, s3=FakeS3({}))
    res = resolving.build(make_project(lineage(obj), name="unresolved-objects"), allow_unresolved=True)
    assert res.notes == [f"s3 source {obj} not found: recorded as declared"]
    missing = _entity(client, "aws_s3_v2_object", f"{obj}@cm")
    assert "size" not in missing.attributes
    assert client.find_entity("aws_s3_v2_directory", f"{obj}/@cm") is None


def test_declared_rebuild_keeps_what_s3_said(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    obj, readme = "s3a://kept-objects/data/wine.csv", "s3a://kept-objects/data/README"
    resolving = Catalog(client, catalog.scope, catalog.namespace, s3=FakeS3({obj: ("object", 77),
                                                                            readme: ("object", 5)}))
    repo = make_project(lineage(obj, readme), name="kept-objects")
    resolving.build(repo)
    before = client.write_requests
    # Without an S3 endpoint the sources are declared: the extension-less README is still the object S3 said it
    # was (not a new directory "README/"), and the sizes S3 reported are not erased.
    res = catalog.build(repo)
    assert client.write_requests == before and (res.creates, res.updates) == (0, 0)
    assert client.find_entity("aws_s3_v2_directory", f"{readme}/@cm") is None
    assert _entity(client, "aws_s3_v2_object", f"{obj}@cm").attributes["size"] == 77
    # A new build, declared without S3, reads the same entities.
    commit_file(repo, "lineage.yml", json.dumps({MODEL: {"s3_sources": [readme, obj], "metadata": {"v": "2"}}}))
    again = catalog.build(repo)
    assert (again.builds[0].version, again.builds[0].new) == (2, True)
    train = _entity(client, "ml_model_train_build_process", f"{again.builds[0].build_crn}:train")
    assert _qns(train.relationships["inputs"]) == {f"{obj}@cm", f"{readme}@cm", again.project_crn}
