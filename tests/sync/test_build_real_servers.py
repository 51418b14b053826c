"""Build capture against REAL servers: Spark Thrift Server (HiveServer2, s3a -> SeaweedFS) + SeaweedFS (S3).

One start of both servers per module (stopped by PID at the end), one embedded Atlas of its own (so that what
other sync tests write under namespace ``cm`` cannot change the figures here). The data is synthetic (seeded),
uploaded with boto3; the Hive tables are EXTERNAL over ``s3a://wine-bucket/wine/...`` as in tests/resolve.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.models import EntitySpec, MutationResult
from catalog.crn import CrnScope
from catalog.errors import CatalogError, InvalidInput, Unresolved
from catalog.queries import CatalogQueries
from catalog.resolve import HiveConfig, HiveResolver, S3Config, S3Resolver, sample_table
from catalog.sync.builder import DeploymentInput
from catalog.sync.engine import Catalog, SyncResult
from tests.conftest import ATLAS_PASSWORD, RunningAtlas, start_atlas
from tests.integration_servers import free_ports
from tests.resolve.wine import FEATURE_COLUMNS, WINE_COLUMNS
from tests.servers_fixtures import (
    PrefixListing,
    RealServers,
    columns_ddl,
    list_prefix,
    put_objects,
    run_sql,
    start_servers,
    wine_csv,
)
from tests.sync.conftest import commit_file, git

pytestmark = pytest.mark.slow

NS = "cm"
BUCKET = "wine-bucket"
SCOPE = CrnScope("us-west-1", "acct-1", "ws-1")
MODEL = "Wine quality (real servers)"
RAW_URI = f"s3a://{BUCKET}/raw/2024/"

#: Behind default.wineds_ext (LOCATION s3a://wine-bucket/wine/data/).
WINE_DATA: dict[str, bytes] = {
    "wine/data/part-00000.csv": wine_csv(seed=1, rows=40),
    "wine/data/part-00001.csv": wine_csv(seed=2, rows=25),
}
#: The S3 source read directly by the training code: nested keys, mixed formats.
RAW_2024: dict[str, bytes] = {
    "raw/2024/wine-2024-01.csv": wine_csv(seed=11, rows=30),
    "raw/2024/wine-2024-02.csv": wine_csv(seed=12, rows=17),
    "raw/2024/month=03/part-00000.csv": wine_csv(seed=13, rows=9),
    "raw/2024/_manifest.json": json.dumps({"source": "synthetic", "seeds": [11, 12, 13]}).encode(),
}
#: Siblings that must NOT be counted under raw/2024/ (a sibling year, a prefix sharing the characters).
RAW_OTHER: dict[str, bytes] = {
    "raw/2023/wine-2023-12.csv": wine_csv(seed=21, rows=5),
    "raw/2024-archive/old.csv": wine_csv(seed=22, rows=5),
}

HIVE_DDL = [
    f"CREATE EXTERNAL TABLE default.wineds_ext ({columns_ddl(WINE_COLUMNS)}) COMMENT 'red wine quality' "
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE "
    f"LOCATION 's3a://{BUCKET}/wine/data/'",
    f"CREATE EXTERNAL TABLE default.wineds_ext_nolabel ({columns_ddl(FEATURE_COLUMNS)}) STORED AS PARQUET "
    f"LOCATION 's3a://{BUCKET}/wine/nolabel/'",
    # Spark writes parquet files through s3a into SeaweedFS.
    f"INSERT INTO default.wineds_ext_nolabel SELECT {', '.join(n for n, _ in FEATURE_COLUMNS)} "
    "FROM default.wineds_ext",
]


def lineage_yml(tables: list[str], s3_sources: list[str], model: str = MODEL) -> str:
    lines = [f'"{model}":', "  hive_table_qualified_names:"]
    lines += [f'    - "{t}"' for t in tables]
    lines += ["  s3_sources:"] + [f'    - "{s}"' for s in s3_sources]
    lines += ["  metadata:", '    training_file: "train.py"', '    query: "select * from default.wineds_ext"']
    return "\n".join(lines) + "\n"


WINE_LINEAGE = lineage_yml([f"default.wineds_ext@{NS}", f"default.wineds_ext_nolabel@{NS}"], [RAW_URI])


# -- a client that counts every request ---------------------------------------------------------------------
class CountingHttpClient(AtlasCatalogClient):
    """The real client; every v2 request is classified as a read (GET, search) or a write (anything else)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[str] = []
        self.writes: list[str] = []
        self.written_specs: list[EntitySpec] = []

    def call(self, path: str, method: str, **kwargs: Any) -> Any:
        is_read = method == "GET" or (method == "POST" and path.startswith("search/"))
        (self.reads if is_read else self.writes).append(f"{method} {path}")
        return super().call(path, method, **kwargs)

    def upsert(self, specs: list[EntitySpec]) -> MutationResult:
        self.written_specs.extend(specs)
        return super().upsert(specs)


# -- fixtures -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WineWorld:
    raw_listing: PrefixListing
    wine_location: str = f"s3a://{BUCKET}/wine/data"


@pytest.fixture(scope="module")
def servers() -> Iterator[RealServers]:
    d = Path(tempfile.mkdtemp(prefix="mlcatalog-sync-it-"))
    try:
        running = start_servers(d, [BUCKET])
        try:
            yield running
        finally:
            running.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def world(servers: RealServers) -> WineWorld:
    put_objects(servers.s3, BUCKET, {**WINE_DATA, **RAW_2024, **RAW_OTHER})
    assert servers.hive is not None
    run_sql(servers.hive, HIVE_DDL)
    listing = list_prefix(servers.s3, BUCKET, "raw/2024/")
    # The listing is the independent truth the build's metadata is compared with; check it is the upload.
    assert (listing.object_count, listing.total_size_bytes) == (len(RAW_2024), sum(map(len, RAW_2024.values())))
    return WineWorld(raw_listing=listing)


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    """Overrides the session-wide store: this module's own embedded Atlas (exact counts, no cross-talk)."""
    running = start_atlas(tmp_path_factory.mktemp("atlas-real-servers"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hive_config(servers: RealServers) -> HiveConfig:
    assert servers.hive is not None
    return HiveConfig(host=servers.hive.host, port=servers.hive.port, auth="NOSASL", username="mlcatalog",
                      timeout_s=60)


@pytest.fixture(scope="module")
def s3_config(servers: RealServers) -> S3Config:
    return S3Config(endpoint_url=servers.s3.endpoint, access_key_id=servers.s3.access_key,
                    secret_access_key=servers.s3.secret_key)


@dataclass
class Wired:
    catalog: Catalog
    client: CountingHttpClient
    resolvers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for r in self.resolvers:
            r.close()
        self.client.close()


@pytest.fixture
def wired(atlas: RunningAtlas, world: WineWorld, hive_config: HiveConfig, s3_config: S3Config
          ) -> Iterator[Wired]:
    """A fresh Catalog (fresh counting client, fresh resolver connections) as a command would build it."""
    w = _wire(atlas, hive_config, s3_config)
    yield w
    w.close()


def _wire(atlas: RunningAtlas, hive_config: HiveConfig, s3_config: S3Config) -> Wired:
    client = CountingHttpClient(atlas.url, "admin", ATLAS_PASSWORD)
    hive, s3 = HiveResolver(hive_config), S3Resolver(s3_config)
    return Wired(Catalog(client, SCOPE, NS, hive=hive, s3=s3), client, [hive, s3])


@pytest.fixture
def reader(atlas: RunningAtlas) -> Iterator[AtlasCatalogClient]:
    client = AtlasCatalogClient(atlas.url, "admin", ATLAS_PASSWORD)
    yield client
    client.close()


def new_project(root: Path, lineage: str) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    commit_file(root, "lineage.yml", lineage, "initial commit")
    return root


@dataclass(frozen=True)
class Built:
    repo: Path
    result: SyncResult


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, atlas: RunningAtlas, world: WineWorld,
          hive_config: HiveConfig, s3_config: S3Config) -> Built:
    """The wine project built once, with both resolvers."""
    repo = new_project(tmp_path_factory.mktemp("projects") / "wine-project", WINE_LINEAGE)
    w = _wire(atlas, hive_config, s3_config)
    try:
        result = w.catalog.build(repo)
    finally:
        w.close()
    assert w.client.written_specs, "the first build wrote nothing"
    return Built(repo, result)


def _entity(reader: AtlasCatalogClient, type_name: str, qn: str) -> Any:
    e = reader.find_entity(type_name, qn)
    assert e is not None, f"{type_name} {qn} not in Atlas"
    return e


def _qns(refs: list[Any]) -> set[str]:
    return {r.qualified_name for r in refs}


# -- the build --------------------------------------------------------------------------------------------------
def test_hive_tables_come_from_hiveserver2(built: Built, reader: AtlasCatalogClient) -> None:
    db = _entity(reader, "hive_db", f"default@{NS}")
    assert (db.attributes["name"], db.attributes["clusterName"]) == ("default", NS)

    table = _entity(reader, "hive_table", f"default.wineds_ext@{NS}")
    assert table.attributes["name"] == "wineds_ext"
    assert table.attributes["tableType"] == "EXTERNAL_TABLE"
    assert table.attributes["parameters"]["mlcatalog.source"] == "hiveserver2"
    assert "transient_lastDdlTime" in table.attributes["parameters"]  # the metastore's own parameters are kept
    assert table.attributes["comment"] == "red wine quality"
    assert table.attributes["owner"] == "mlcatalog-it"  # the session user that ran the DDL
    assert isinstance(table.attributes["createTime"], int) and table.attributes["createTime"] > 0
    assert _qns(table.relationships["db"]) == {f"default@{NS}"}

    columns = reader.find_by_prefix("hive_column", "default.wineds_ext.", ["name", "type", "position"])
    assert sorted((h.attributes["position"], h.attributes["name"], h.attributes["type"], qn)
                  for qn, h in columns.items()) == [
        (i, n, t, f"default.wineds_ext.{n}@{NS}") for i, (n, t) in enumerate(WINE_COLUMNS)]
    assert _qns(table.relationships["columns"]) == set(columns)
    one = _entity(reader, "hive_column", f"default.wineds_ext.quality@{NS}")
    assert _qns(one.relationships["table"]) == {f"default.wineds_ext@{NS}"}

    sd = _entity(reader, "hive_storagedesc", f"default.wineds_ext@{NS}_storage")
    assert sd.attributes["location"] == f"s3a://{BUCKET}/wine/data"
    assert sd.attributes["inputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert _qns(sd.relationships["table"]) == {f"default.wineds_ext@{NS}"}

    nolabel = _entity(reader, "hive_table", f"default.wineds_ext_nolabel@{NS}")
    assert nolabel.attributes["parameters"]["mlcatalog.source"] == "hiveserver2"
    cols = reader.find_by_prefix("hive_column", "default.wineds_ext_nolabel.", ["name", "position"])
    assert sorted((h.attributes["position"], h.attributes["name"]) for h in cols.values()) == [
        (i, n) for i, (n, _) in enumerate(FEATURE_COLUMNS)]
    nolabel_sd = _entity(reader, "hive_storagedesc", f"default.wineds_ext_nolabel@{NS}_storage")
    assert nolabel_sd.attributes["location"] == f"s3a://{BUCKET}/wine/nolabel"


def test_table_location_is_linked_like_the_hive_hook(built: Built, reader: AtlasCatalogClient) -> None:
    bucket = _entity(reader, "aws_s3_v2_bucket", f"s3a://{BUCKET}@{NS}")
    assert bucket.attributes["name"] == BUCKET
    wine = _entity(reader, "aws_s3_v2_directory", f"s3a://{BUCKET}/wine/@{NS}")
    assert (wine.attributes["name"], wine.attributes["objectPrefix"]) == ("wine", "/wine/")
    assert _qns(wine.relationships["container"]) == {f"s3a://{BUCKET}@{NS}"}
    data = _entity(reader, "aws_s3_v2_directory", f"s3a://{BUCKET}/wine/data/@{NS}")
    assert (data.attributes["name"], data.attributes["objectPrefix"]) == ("data", "/wine/data/")
    assert _qns(data.relationships["container"]) == {f"s3a://{BUCKET}/wine/@{NS}"}

    table = _entity(reader, "hive_table", f"default.wineds_ext@{NS}")
    processes = reader.find_by_prefix("hive_process", f"default.wineds_ext@{NS}:")
    assert len(processes) == 1, processes
    (pqn,) = processes
    assert pqn == f"default.wineds_ext@{NS}:{table.attributes['createTime']}"
    process = _entity(reader, "hive_process", pqn)
    assert process.attributes["operationType"] == "CREATETABLE"
    assert _qns(process.relationships["inputs"]) == {f"s3a://{BUCKET}/wine/data/@{NS}"}
    assert _qns(process.relationships["outputs"]) == {f"default.wineds_ext@{NS}"}


def test_s3_source_directories_and_exact_statistics(built: Built, world: WineWorld,
                                                    reader: AtlasCatalogClient) -> None:
    raw = _entity(reader, "aws_s3_v2_directory", f"s3a://{BUCKET}/raw/@{NS}")
    assert _qns(raw.relationships["container"]) == {f"s3a://{BUCKET}@{NS}"}
    year = _entity(reader, "aws_s3_v2_directory", f"s3a://{BUCKET}/raw/2024/@{NS}")
    assert (year.attributes["name"], year.attributes["objectPrefix"]) == ("2024", "/raw/2024/")
    assert _qns(year.relationships["container"]) == {f"s3a://{BUCKET}/raw/@{NS}"}
    # Only the declared prefix: siblings are not catalogued.
    assert reader.find_entity("aws_s3_v2_directory", f"s3a://{BUCKET}/raw/2023/@{NS}") is None

    (b,) = built.result.builds
    build = _entity(reader, "ml_model_build", b.build_crn)
    metadata = build.attributes["metadata"]
    expected = world.raw_listing
    assert (expected.object_count, expected.total_size_bytes) == (4, sum(len(v) for v in RAW_2024.values()))
    assert metadata[f"s3 {RAW_URI}"] == expected.metadata_value
    assert metadata["training_file"] == "train.py"
    assert set(metadata) == {"training_file", "query", f"s3 {RAW_URI}"}


def test_train_process_reads_both_tables_the_s3_source_and_the_project(built: Built,
                                                                      reader: AtlasCatalogClient) -> None:
    (b,) = built.result.builds
    assert (b.model_name, b.version, b.new) == (MODEL, 1, True)
    train = _entity(reader, "ml_model_train_build_process", f"{b.build_crn}:train")
    assert _qns(train.relationships["inputs"]) == {
        f"default.wineds_ext@{NS}", f"default.wineds_ext_nolabel@{NS}", f"s3a://{BUCKET}/raw/2024/@{NS}",
        built.result.project_crn}
    assert _qns(train.relationships["outputs"]) == {b.build_crn}
    assert built.result.notes == []  # everything was resolved


def test_build_inputs_carry_the_columns_hiveserver2_reported(built: Built, reader: AtlasCatalogClient,
                                                             hive_config: HiveConfig) -> None:
    (b,) = built.result.builds
    inputs = CatalogQueries(reader).build_inputs(b.build_crn)
    assert [(d.type_name, d.qualified_name) for d in inputs] == [  # lineage.yml's order, the project left out
        ("hive_table", f"default.wineds_ext@{NS}"), ("hive_table", f"default.wineds_ext_nolabel@{NS}"),
        ("aws_s3_v2_directory", f"s3a://{BUCKET}/raw/2024/@{NS}")]
    wine, nolabel, raw = inputs
    assert wine.columns == [n for n, _ in WINE_COLUMNS]
    assert nolabel.columns == [n for n, _ in FEATURE_COLUMNS]
    assert (raw.name, raw.columns) == ("2024", [])
    # what a monitor samples as the reference has the columns the catalog names
    assert sample_table(hive_config, wine.qualified_name, limit=5).columns == wine.columns


def test_deployment_lineage_goes_back_to_the_s3_data(built: Built, atlas: RunningAtlas,
                                                     reader: AtlasCatalogClient) -> None:
    (b,) = built.result.builds
    dep_crn = b.build_crn.rsplit("/", 1)[0] + "/deployment-real-servers"
    with CountingHttpClient(atlas.url, "admin", ATLAS_PASSWORD) as client:
        Catalog(client, SCOPE, NS).record_deployment(DeploymentInput(
            crn=dep_crn, build_crn=b.build_crn, model_crn=b.model_crn, model_name=b.model_name, name="wine-prod",
            status="deployed", create_time_ms=1_700_000_000_000, deployed_time_ms=1_700_000_060_000,
            cpu_millicores=1000, memory_mb=2048, replicas=2))
    dep = _entity(reader, "ml_model_deployment", dep_crn)
    lin = reader.lineage(dep.guid, "INPUT", 3)
    name = {g: (h.type_name, h.qualified_name) for g, h in lin.entities.items()}
    edges = {(name[r.from_guid], name[r.to_guid]) for r in lin.relations}

    table_qn = f"default.wineds_ext@{NS}"
    (pqn,) = reader.find_by_prefix("hive_process", f"{table_qn}:")
    data_dir = ("aws_s3_v2_directory", f"s3a://{BUCKET}/wine/data/@{NS}")
    hive_process = ("hive_process", pqn)
    table = ("hive_table", table_qn)
    train = ("ml_model_train_build_process", f"{b.build_crn}:train")
    build = ("ml_model_build", b.build_crn)
    deploy = ("ml_model_deploy_process", f"{dep_crn}:deploy")
    deployment = ("ml_model_deployment", dep_crn)
    chain = [data_dir, hive_process, table, train, build, deploy, deployment]
    for upstream, downstream in itertools.pairwise(chain):
        assert (upstream, downstream) in edges, f"missing lineage edge {upstream} -> {downstream}"
        assert (downstream, upstream) not in edges, f"reversed lineage edge {downstream} -> {upstream}"
    # The S3 source feeds the training directly; every relation points downstream (towards the deployment).
    assert (("aws_s3_v2_directory", f"s3a://{BUCKET}/raw/2024/@{NS}"), train) in edges
    assert (("hive_table", f"default.wineds_ext_nolabel@{NS}"), train) in edges
    assert all(to != data_dir and frm != deployment for frm, to in edges)
    # Depth counts dataset->process->dataset hops: the table's S3 directory is 3 hops from the deployment.
    shallow = {h.qualified_name for h in reader.lineage(dep.guid, "INPUT", 2).entities.values()}
    assert table_qn in shallow and data_dir[1] not in shallow


def test_rebuild_of_the_same_commit_writes_nothing(built: Built, wired: Wired) -> None:
    again = wired.catalog.build(built.repo)
    assert wired.client.writes == [], wired.client.writes
    assert (again.creates, again.updates, again.written) == (0, 0, 0)
    assert [(b.build_crn, b.version, b.new) for b in again.builds] == [
        (b.build_crn, 1, False) for b in built.result.builds]
    assert wired.client.reads  # it did look


# -- what cannot be resolved ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("missing", "why"), [
    ("default.no_such_table", "Hive table default.no_such_table does not exist"),
    ("no_such_db.wineds_ext", "Hive database 'no_such_db' does not exist"),
])
def test_missing_table_is_unresolved_and_nothing_is_written(
        built: Built, wired: Wired, reader: AtlasCatalogClient, tmp_path: Path, missing: str, why: str) -> None:
    missing_qn = f"{missing}@{NS}"
    repo = new_project(tmp_path / "missing-table",
                       lineage_yml([f"default.wineds_ext@{NS}", missing_qn], [RAW_URI], model="needs a table"))
    with pytest.raises(Unresolved) as ei:
        wired.catalog.build(repo)
    assert ei.value.code == "unresolved"
    assert f"hive table {missing_qn}: {why}" in ei.value.problems, ei.value.problems
    assert "--allow-unresolved" in str(ei.value)
    assert wired.client.writes == []
    assert reader.find_entity("hive_table", missing_qn) is None

    res = wired.catalog.build(repo, allow_unresolved=True)
    declared = _entity(reader, "hive_table", missing_qn)
    assert declared.attributes["parameters"] == {"mlcatalog.source": "declared"}
    assert "tableType" not in declared.attributes
    assert reader.find_entity("hive_storagedesc", f"{missing_qn}_storage") is None
    assert res.notes == [f"hive table {missing_qn} not found in HiveServer2: recorded as declared"]
    # The resolvable table is the one already built: unchanged, so not rewritten.
    written = {(s.type_name, s.qualified_name) for s in wired.client.written_specs}
    assert ("hive_table", f"default.wineds_ext@{NS}") not in written
    train = _entity(reader, "ml_model_train_build_process", f"{res.builds[0].build_crn}:train")
    assert missing_qn in _qns(train.relationships["inputs"])


@pytest.mark.parametrize("uri", [f"s3a://{BUCKET}/raw/2031/", "s3a://no-such-bucket-mlc/raw/2024/"])
def test_missing_s3_source_is_unresolved_then_declared(
        built: Built, wired: Wired, reader: AtlasCatalogClient, tmp_path: Path, uri: str) -> None:
    repo = new_project(tmp_path / "missing-s3", lineage_yml([f"default.wineds_ext@{NS}"], [uri], model="needs s3"))
    with pytest.raises(Unresolved) as ei:
        wired.catalog.build(repo)
    assert any(p.startswith(f"s3 source {uri}: ") for p in ei.value.problems), ei.value.problems
    assert wired.client.writes == []
    bucket, _, prefix = uri.removeprefix("s3a://").partition("/")
    deepest = f"s3a://{bucket}/{prefix}@{NS}"
    assert reader.find_entity("aws_s3_v2_directory", deepest) is None

    res = wired.catalog.build(repo, allow_unresolved=True)
    assert res.notes == [f"s3 source {uri} not found: recorded as declared"]
    _entity(reader, "aws_s3_v2_directory", deepest)
    build = _entity(reader, "ml_model_build", res.builds[0].build_crn)
    assert f"s3 {uri}" not in build.attributes["metadata"]  # no statistics for what was not found
    train = _entity(reader, "ml_model_train_build_process", f"{res.builds[0].build_crn}:train")
    assert deepest in _qns(train.relationships["inputs"])


def test_s3_objects_are_recorded_as_objects_as_s3_says(servers: RealServers, world: WineWorld, wired: Wired,
                                                      reader: AtlasCatalogClient, tmp_path: Path) -> None:
    objects = {"objects/wine.csv": wine_csv(seed=31, rows=12), "objects/README": b"synthetic wine data\n",
               "objects/scores.csv/part-00000.csv": wine_csv(seed=32, rows=3)}  # what Spark's .write.csv() makes
    started = time.time()
    put_objects(servers.s3, BUCKET, objects)
    wine_uri, readme_uri, scores_uri = (f"s3a://{BUCKET}/objects/{k}" for k in ("wine.csv", "README", "scores.csv"))
    repo = new_project(tmp_path / "objects", lineage_yml([], [wine_uri, readme_uri, scores_uri], model="files"))
    res = wired.catalog.build(repo)
    assert res.notes == []

    wine = _entity(reader, "aws_s3_v2_object", f"{wine_uri}@{NS}")
    assert (wine.attributes["name"], wine.attributes["bucketName"]) == ("wine.csv", BUCKET)
    assert wine.attributes["size"] == len(objects["objects/wine.csv"])
    assert started - 2 <= wine.attributes["lastModifiedTime"] / 1000 <= time.time() + 2  # S3 keeps whole seconds
    assert _qns(wine.relationships["container"]) == {f"s3a://{BUCKET}/objects/@{NS}"}
    assert reader.find_entity("aws_s3_v2_directory", f"{wine_uri}/@{NS}") is None
    # S3's answer beats the name: an extension-less key is an object, Spark's "scores.csv" a directory.
    assert _entity(reader, "aws_s3_v2_object", f"{readme_uri}@{NS}").attributes["size"] == len(b"synthetic wine data\n")
    _entity(reader, "aws_s3_v2_directory", f"{scores_uri}/@{NS}")
    assert reader.find_entity("aws_s3_v2_object", f"{scores_uri}@{NS}") is None
    train = _entity(reader, "ml_model_train_build_process", f"{res.builds[0].build_crn}:train")
    assert _qns(train.relationships["inputs"]) == {f"{wine_uri}@{NS}", f"{readme_uri}@{NS}", f"{scores_uri}/@{NS}",
                                                   res.project_crn}

    wired.client.writes.clear()
    again = wired.catalog.build(repo)
    assert wired.client.writes == [] and (again.creates, again.updates) == (0, 0)
    impact = CatalogQueries(reader).impact(wine_uri)
    assert [b.crn for b in impact.builds] == [res.builds[0].build_crn]


@pytest.mark.parametrize("name", [
    "default.wineds_ext; DROP TABLE default.wineds_ext; --@cm",
    "default.`wineds_ext`@cm",
    "default.wineds_ext' OR '1'='1@cm",
])
def test_injection_in_a_qualified_name_cannot_be_parsed(
        servers: RealServers, world: WineWorld, wired: Wired, tmp_path: Path, name: str) -> None:
    content = f'"innocent model":\n  hive_table_qualified_names:\n    - {json.dumps(name)}\n'
    repo = new_project(tmp_path / "injection", content)
    with pytest.raises(InvalidInput, match=r"^lineage\.yml:3:7: ") as ei:
        wired.catalog.build(repo)
    assert "db.table@namespace" in str(ei.value)
    assert wired.client.writes == []
    hive = wired.catalog.hive
    assert isinstance(hive, HiveResolver)
    assert not hive.connected  # nothing was ever sent to HiveServer2
    assert servers.hive is not None
    with HiveResolver(HiveConfig(host=servers.hive.host, port=servers.hive.port, timeout_s=60)) as r:
        assert r.table_exists("default", "wineds_ext")


# -- schema changes and outages ----------------------------------------------------------------------------------
def test_schema_change_in_hive_replaces_the_columns(servers: RealServers, world: WineWorld, wired: Wired,
                                                    reader: AtlasCatalogClient, tmp_path: Path) -> None:
    assert servers.hive is not None
    ddl = ("CREATE EXTERNAL TABLE default.wine_schema ({}) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
           f"LOCATION 's3a://{BUCKET}/wine/schema/'")
    run_sql(servers.hive, [ddl.format(columns_ddl(WINE_COLUMNS[:3]))])
    repo = new_project(tmp_path / "schema", lineage_yml([f"default.wine_schema@{NS}"], [], model="schema drift"))
    wired.catalog.build(repo)
    run_sql(servers.hive, ["DROP TABLE default.wine_schema", ddl.format(columns_ddl(WINE_COLUMNS[:1]))])
    wired.catalog.build(repo)  # the same commit, re-resolved: Hive now reports one column
    table = _entity(reader, "hive_table", f"default.wine_schema@{NS}")
    assert _qns(table.relationships["columns"]) == {f"default.wine_schema.{WINE_COLUMNS[0][0]}@{NS}"}


def test_unreachable_hiveserver2_is_a_catalog_error(built: Built, atlas: RunningAtlas) -> None:
    (closed,) = free_ports(1)
    with CountingHttpClient(atlas.url, "admin", ATLAS_PASSWORD) as client, \
            HiveResolver(HiveConfig(host="127.0.0.1", port=closed, timeout_s=5)) as hive:
        catalog = Catalog(client, SCOPE, NS, hive=hive)
        try:
            with pytest.raises(CatalogError) as ei:
                catalog.build(built.repo)
        finally:
            assert client.writes == []
    assert ei.value.code == "upstream_unavailable"
    assert f"127.0.0.1:{closed}" in ei.value.message
