"""A build resolved (``Catalog.resolve_build``: git, lineage file, HiveServer2, S3; no Atlas) and recorded later
(``Catalog.build_resolved``: Atlas only; never the project directory or git).

Each test opens embedded stores of its own (``atlas+embedded:///dir``): two catalogs are compared entity by
entity. HiveServer2 and S3 are stand-ins answering as the resolvers do, from a table, and failing on demand (the
real resolvers are checked against real servers in tests/resolve and tests/sync/test_build_real_servers.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.connect import open_atlas
from catalog.atlas.models import EntitySpec, ObjectRef
from catalog.crn import CrnScope
from catalog.errors import InvalidInput, UpstreamUnavailable
from catalog.lineagefile import MAX_FILE_BYTES
from catalog.resolve.errors import HiveUnavailable, PrefixNotFound, S3Unavailable, TableNotFound
from catalog.resolve.models import HiveColumn, HiveTableInfo, S3PrefixInfo
from catalog.resolve.s3 import parse_s3_uri
from catalog.sync.engine import Catalog, SyncResult
from catalog.sync.snapshot import MAX_REFS, ResolvedBuild
from tests.servers import free_port
from tests.sync.conftest import commit_file, git

SCOPE = CrnScope("us-west-1", "acct-1", "ws-1")
WINE = "wine quality"
CHURN = "churn"
LINEAGE = json.dumps({
    WINE: {"hive_table_qualified_names": ["default.wine@cm", "default.gone@cm"],
           "s3_sources": ["s3a://wine-bucket/raw/wine.csv", "s3a://wine-bucket/features/", "s3a://wine-bucket/nope/"],
           "metadata": {"query": "select * from wine -- 🍷 qualité"}},
    CHURN: {"hive_table_qualified_names": ["default.churn@cm"]},
}, indent=2, ensure_ascii=False)
TYPES = ("ml_project", "ml_model_build", "ml_model_train_build_process", "hive_db", "hive_table", "hive_column",
         "hive_storagedesc", "hive_process", "aws_s3_v2_bucket", "aws_s3_v2_directory", "aws_s3_v2_object")


class Hive:
    """Describes tables as HiveServer2 would; ``down``: unreachable, as HiveResolver reports it."""

    def __init__(self) -> None:
        self.down = False
        self.asked: list[str] = []

    def describe_table(self, db: str, table: str) -> HiveTableInfo:
        self.asked.append(f"{db}.{table}")
        if self.down:
            raise HiveUnavailable("hive.example", 10000, "Connection refused")
        if table == "gone":
            raise TableNotFound(db, table)
        location = f"s3a://wine-bucket/{table}" if table == "wine" else None
        return HiveTableInfo(db=db, table=table, table_type="EXTERNAL_TABLE" if location else "MANAGED_TABLE",
                             columns=[HiveColumn(name="fixedacidity", type="double", comment="g/l", position=0),
                                      HiveColumn(name="quality", type="int", position=1)],
                             location=location, owner="hive", create_time_ms=1_700_000_000_000,
                             parameters={"EXTERNAL": "TRUE"} if location else {})


class S3:
    """Describes S3 sources as S3Resolver would; ``down``: unreachable."""

    def __init__(self) -> None:
        self.down = False

    def describe_prefix(self, uri: str) -> S3PrefixInfo:
        scheme, bucket, key = parse_s3_uri(uri)
        if self.down:
            raise S3Unavailable("http://s3.example", "timed out")
        if key == "nope/":
            raise PrefixNotFound(bucket, key)
        obj = key.endswith(".csv")
        return S3PrefixInfo(scheme=scheme, bucket=bucket, prefix=key, kind="object" if obj else "prefix",
                            object_count=1 if obj else 4, total_size_bytes=1234 if obj else 99_000,
                            newest_modified_ms=1_772_000_000_000)


def no_atlas() -> AtlasCatalogClient:
    """A client of an Atlas nobody serves: resolving never asks it."""
    return AtlasCatalogClient(f"http://127.0.0.1:{free_port()}", "admin", "pw", timeout_s=2)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[AtlasCatalogClient]]:
    """Two empty embedded stores."""
    clients = [open_atlas(f"atlas+embedded://{tmp_path / name}") for name in ("first", "second")]
    yield clients
    for c in clients:
        c.close()


def project(parent: Path, lineage: str = LINEAGE) -> Path:
    repo = parent / "wine-project"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "lineage.yml", lineage, "initial commit")
    return repo


def summary(r: SyncResult) -> dict[str, Any]:
    return {"project": r.project_crn, "commit": r.commit, "creates": r.creates, "updates": r.updates,
            "notes": r.notes, "builds": sorted((b.model_name, b.build_crn, b.version, b.new) for b in r.builds)}


def _without_guids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_guids(v) for k, v in value.items() if k != "guid"}
    if isinstance(value, list):
        return [_without_guids(v) for v in value]
    return value


def entities(client: AtlasCatalogClient) -> dict[tuple[str, str], Any]:
    """Every entity with its attributes and relationships (the store's own guids and the project's time of
    creation left out)."""
    out: dict[tuple[str, str], Any] = {}
    for type_name in TYPES:
        for h in client.search_all(type_name=type_name):
            e = client.find_entity(type_name, str(h.qualified_name))
            assert e is not None
            attrs = {k: _without_guids(v) for k, v in e.attributes.items()
                     if not (type_name == "ml_project" and k == "createTime")}
            rels = {k: sorted(str(r.qualified_name) for r in v) for k, v in e.relationships.items()}
            out[(type_name, str(h.qualified_name))] = (attrs, rels)
    return out


# -- the snapshot as a value ----------------------------------------------------------------------------------
@pytest.fixture
def resolved(tmp_path: Path) -> ResolvedBuild:
    return Catalog(no_atlas(), SCOPE, "cm", hive=Hive(), s3=S3()).resolve_build(project(tmp_path))


def test_resolving_reads_the_project_hive_and_s3_and_not_atlas(resolved: ResolvedBuild, tmp_path: Path) -> None:
    head = git(tmp_path / "wine-project", "rev-parse", "HEAD").strip()
    assert (resolved.commit, resolved.lineage_path, resolved.lineage_text) == (head, "lineage.yml", LINEAGE)
    assert resolved.author == "Data Scientist <ds@example.com>" and resolved.project_name == "wine-project"
    assert [m.name for m in resolved.models] == [WINE, CHURN] and resolved.reuse_unchanged
    assert {qn: t.lookup for qn, t in resolved.tables.items()} == {
        "default.wine@cm": "described", "default.gone@cm": "not_found", "default.churn@cm": "described"}
    wine = resolved.tables["default.wine@cm"].facts
    assert wine is not None and [c.name for c in wine.columns] == ["fixedacidity", "quality"]
    assert wine.location == "s3a://wine-bucket/wine" and wine.parameters == {"EXTERNAL": "TRUE"}
    assert resolved.tables["default.gone@cm"].message == "Hive table default.gone does not exist"
    assert {uri: (s.lookup, s.kind, s.total_size_bytes) for uri, s in resolved.s3.items()} == {
        "s3a://wine-bucket/raw/wine.csv": ("described", "object", 1234),
        "s3a://wine-bucket/features/": ("described", "prefix", 99_000),
        "s3a://wine-bucket/nope/": ("not_found", None, None)}


def test_a_snapshot_round_trips_through_json_exactly(resolved: ResolvedBuild) -> None:
    text = resolved.model_dump_json()
    assert ResolvedBuild.model_validate_json(text) == resolved
    assert ResolvedBuild.model_validate_json(text).model_dump_json() == text
    # as the platform's outbox stores it (json.dumps, ASCII-escaped) and reads it back
    stored = json.dumps({"resolved": resolved.model_dump(mode="json")}, sort_keys=True)
    assert ResolvedBuild.model_validate(json.loads(stored)["resolved"]) == resolved
    # a line break YAML knows (NEL) and characters outside the BMP survive too
    odd = resolved.model_copy(update={"lineage_text": resolved.lineage_text + "\n# a\x85b 🍷\n"})
    assert ResolvedBuild.model_validate(json.loads(json.dumps(odd.model_dump(mode="json")))) == odd


def _dump(r: ResolvedBuild) -> dict[str, Any]:
    return dict(json.loads(r.model_dump_json()))


def _hostile(body: dict[str, Any], case: str) -> dict[str, Any]:
    wine = "default.wine@cm"
    edits: dict[str, Any] = {
        "huge lineage file": {"lineage_text": "x" * (MAX_FILE_BYTES + 1)},
        "NUL in the lineage file": {"lineage_text": "a: b\x00"},
        "lone surrogate": {"lineage_text": "a: \ud800"},
        "control character in a name": {"author": "ds\n<ds@example.com>"},
        "not a commit id": {"commit": "HEAD"},
        "no model": {"models": []},
        "a model twice": {"models": body["models"] + body["models"][:1]},
        "another format": {"format": 2},
        "an unknown field": {"project_dir": "/srv/project"},
        "too many tables": {"tables": {f"d.t{i}@cm": {"lookup": "not_asked"} for i in range(MAX_REFS + 1)}},
        "described without facts": {"tables": {**body["tables"], wine: {"lookup": "described"}}},
        "facts of a table not found": {"tables": {**body["tables"], wine: {**body["tables"][wine],
                                                                           "lookup": "not_found"}}},
        "a huge column type": {"tables": {**body["tables"], wine: {"lookup": "described", "facts": {
            "columns": [{"name": "c", "type": "x" * (1024 * 1024 + 1)}]}}}},
        "a negative size": {"s3": {**body["s3"], "s3a://wine-bucket/features/": {
            "lookup": "described", "kind": "prefix", "object_count": 1, "total_size_bytes": -1}}},
        "S3 described without a kind": {"s3": {**body["s3"], "s3a://wine-bucket/features/": {
            "lookup": "described", "object_count": 1, "total_size_bytes": 1}}},
        "a time past Atlas's long": {"commit_time_ms": 2**63},
        "too many notes": {"notes": ["n"] * 101},
    }
    return {**body, **edits[case]}


@pytest.mark.parametrize("case", [
    "huge lineage file", "NUL in the lineage file", "lone surrogate", "control character in a name",
    "not a commit id", "no model", "a model twice", "another format", "an unknown field", "too many tables",
    "described without facts", "facts of a table not found", "a huge column type", "a negative size",
    "S3 described without a kind", "a time past Atlas's long", "too many notes"])
def test_hostile_snapshots_are_refused(resolved: ResolvedBuild, case: str) -> None:
    with pytest.raises(ValidationError):
        ResolvedBuild.model_validate(_hostile(_dump(resolved), case))


def test_a_snapshot_is_checked_against_its_own_lineage_file_before_atlas(resolved: ResolvedBuild) -> None:
    catalog = Catalog(no_atlas(), SCOPE, "cm")  # an Atlas call would be UpstreamUnavailable, not InvalidInput
    body = _dump(resolved)
    del body["tables"]["default.churn@cm"]
    with pytest.raises(InvalidInput, match="not the inputs its lineage file names"):
        catalog.build_resolved(ResolvedBuild.model_validate(body))
    renamed = {**_dump(resolved), "models": [{**_dump(resolved)["models"][0], "name": "nope"}]}
    with pytest.raises(InvalidInput, match="no model named 'nope'"):
        catalog.build_resolved(ResolvedBuild.model_validate(renamed))
    broken = {**_dump(resolved), "lineage_text": "m:\n  hive_table_qualified_names: [\"no_at_sign\"]\n"}
    with pytest.raises(InvalidInput, match=r"lineage\.yml:2:"):
        catalog.build_resolved(ResolvedBuild.model_validate(broken))


# -- recording it -----------------------------------------------------------------------------------------
def test_recording_a_snapshot_needs_neither_the_project_nor_git(
        tmp_path: Path, stores: list[AtlasCatalogClient], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project(tmp_path / "work")
    direct, replayed = (Catalog(c, SCOPE, "cm", hive=Hive(), s3=S3()) for c in stores)
    snapshot = replayed.resolve_build(repo, allow_unresolved=True)
    expected = direct.build(repo, allow_unresolved=True)
    shutil.rmtree(repo)

    def no_git(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a process was started while recording a resolved build: {args}")

    monkeypatch.setattr(subprocess, "run", no_git)
    monkeypatch.setattr(subprocess, "Popen", no_git)
    got = replayed.build_resolved(snapshot)
    assert summary(got) == summary(expected)
    assert got.notes == ["hive table default.gone@cm not found in HiveServer2: recorded as declared",
                         "s3 source s3a://wine-bucket/nope/ not found: recorded as declared"]
    assert all(b.guid for b in got.builds)
    assert entities(stores[1]) == entities(stores[0])
    wine = next(b for b in got.builds if b.model_name == WINE)
    train = stores[1].find_entity("ml_model_train_build_process", f"{wine.build_crn}:train")
    assert train is not None and {r.qualified_name for r in train.relationships["inputs"]} == {
        got.project_crn, "default.wine@cm", "default.gone@cm", "s3a://wine-bucket/raw/wine.csv@cm",
        "s3a://wine-bucket/features/@cm", "s3a://wine-bucket/nope/@cm"}
    # recorded again: nothing to write
    again = replayed.build_resolved(snapshot)
    assert (again.creates, again.updates, again.written) == (0, 0, 0)


def test_what_could_not_be_looked_up_is_looked_up_when_recorded(tmp_path: Path,
                                                                stores: list[AtlasCatalogClient]) -> None:
    repo = project(tmp_path / "work")
    hive, s3 = Hive(), S3()
    catalog = Catalog(stores[0], SCOPE, "cm", hive=hive, s3=s3)
    hive.down = s3.down = True
    snapshot = catalog.resolve_build(repo, [CHURN])
    assert snapshot.tables["default.churn@cm"].lookup == "unavailable"
    assert "Connection refused" in (snapshot.tables["default.churn@cm"].message or "")
    with pytest.raises(UpstreamUnavailable, match=r"HiveServer2 at hive\.example:10000 unavailable"):
        catalog.build(repo, [CHURN])  # mlcatalog build: an outage fails the build, as it always did
    with pytest.raises(UpstreamUnavailable, match=r"HiveServer2 at hive\.example:10000 unavailable"):
        catalog.build_resolved(snapshot)  # the outbox: retried later
    assert stores[0].find_entity("hive_table", "default.churn@cm") is None
    hive.down = False
    shutil.rmtree(repo)
    got = catalog.build_resolved(snapshot)
    assert got.notes == [] and [b.model_name for b in got.builds] == [CHURN]
    table = stores[0].find_entity("hive_table", "default.churn@cm")
    assert table is not None and table.attributes["parameters"]["mlcatalog.source"] == "hiveserver2"
    assert len(table.relationships["columns"]) == 2


def test_a_catalog_without_the_resolver_declares_what_could_not_be_looked_up(
        tmp_path: Path, stores: list[AtlasCatalogClient]) -> None:
    hive, s3 = Hive(), S3()
    hive.down = s3.down = True
    snapshot = Catalog(no_atlas(), SCOPE, "cm", hive=hive, s3=s3).resolve_build(project(tmp_path / "work"), [WINE])
    got = Catalog(stores[0], SCOPE, "cm").build_resolved(snapshot)
    assert got.notes[0] == ("hive table default.wine@cm could not be described when the build was resolved "
                            "(HiveServer2 at hive.example:10000 unavailable: Connection refused); no HiveServer2 is "
                            "configured here")
    assert {"no HiveServer2 configured: tables not already in Atlas are recorded as declared",
            "no S3 endpoint configured: S3 sources are recorded as declared"} <= set(got.notes)
    assert len([n for n in got.notes if "could not be described" in n]) == 2 + 3  # every table and source
    table = stores[0].find_entity("hive_table", "default.wine@cm")
    assert table is not None and table.attributes["parameters"] == {"mlcatalog.source": "declared"}


def test_a_table_the_hive_hook_recorded_needs_no_hiveserver2(tmp_path: Path,
                                                              stores: list[AtlasCatalogClient]) -> None:
    """As before builds were resolved first: a table Atlas already has from its Hive hook is only referenced, so
    HiveServer2 being down does not stop its build."""
    stores[0].upsert([EntitySpec(type_name="hive_db", qualified_name="default@cm",
                                 attributes={"name": "default", "clusterName": "cm"})])
    stores[0].upsert([EntitySpec(type_name="hive_table", qualified_name="default.churn@cm",
                                 attributes={"name": "churn"},
                                 relationships={"db": ObjectRef(type_name="hive_db", qualified_name="default@cm")})])
    hive = Hive()
    hive.down = True
    got = Catalog(stores[0], SCOPE, "cm", hive=hive).build(project(tmp_path / "work"), [CHURN])
    assert [b.model_name for b in got.builds] == [CHURN] and got.notes == []
    table = stores[0].find_entity("hive_table", "default.churn@cm")
    assert table is not None and "parameters" not in table.attributes
