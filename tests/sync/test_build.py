"""Build capture end to end against the embedded store over HTTP (declared-only: no HiveServer2/S3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog.atlas.models import EntitySpec, ObjectRef
from catalog.crn import parse_crn
from catalog.errors import InvalidInput
from catalog.sync.builder import DeploymentInput
from catalog.sync.engine import Catalog, SyncResult
from tests.sync.conftest import CountingClient, commit_file, git

WINE = json.dumps({"Predict w/ Monitoring & Lineage": {
    "hive_table_qualified_names": ["default.wineds_ext_nolabel@cm", "default.wineds_ext@cm"]}}, indent=2)
MODEL = "Predict w/ Monitoring & Lineage"


def test_build_creates_project_build_tables_and_train_process(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    repo = make_project(WINE)
    res = catalog.build(repo, [MODEL])
    assert [b.version for b in res.builds] == [1]
    b = res.builds[0]
    assert parse_crn(b.build_crn).workspace == "ws-1" and parse_crn(res.project_crn or "").account == "acct-1"
    build = client.find_entity("ml_model_build", b.build_crn)
    assert build is not None
    assert build.attributes["gitCommit"] == res.commit and build.attributes["version"] == 1
    assert build.attributes["modelName"] == MODEL and build.attributes["lineageFile"] == "lineage.yml"
    assert [r.qualified_name for r in build.relationships["project"]] == [res.project_crn]
    train = client.find_entity("ml_model_train_build_process", f"{b.build_crn}:train")
    assert train is not None and train.attributes["userName"] == "Data Scientist <ds@example.com>"
    assert {r.qualified_name for r in train.relationships["inputs"]} == {
        "default.wineds_ext_nolabel@cm", "default.wineds_ext@cm", res.project_crn}
    table = client.find_entity("hive_table", "default.wineds_ext@cm")
    assert table is not None and table.attributes["parameters"] == {"mlcatalog.source": "declared"}
    assert any("no HiveServer2" in n for n in res.notes)


def test_rebuild_of_unchanged_commit_sends_no_write(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    repo = make_project(WINE, name="unchanged")
    catalog.build(repo)
    before = client.write_requests
    again = catalog.build(repo)
    assert client.write_requests == before
    assert (again.creates, again.updates, again.written) == (0, 0, 0)
    assert [b.new for b in again.builds] == [False] and again.builds[0].version == 1


def test_new_commit_makes_a_new_version_and_writes_only_what_changed(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    repo = make_project(WINE, name="changing")
    first = catalog.build(repo)
    changed = json.dumps({MODEL: {"hive_table_qualified_names": ["default.wineds_ext@cm", "default.extra@cm"],
                                  "metadata": {"query": "select * from wineds_ext"}}})
    commit = commit_file(repo, "lineage.yml", changed)
    client.written_specs.clear()
    second = catalog.build(repo)
    assert second.commit == commit and second.builds[0].version == 2
    assert second.builds[0].build_crn != first.builds[0].build_crn
    written = {(s.type_name, s.qualified_name) for s in client.written_specs}
    assert written == {("hive_table", "default.extra@cm"), ("ml_model_build", second.builds[0].build_crn),
                       ("ml_model_train_build_process", f"{second.builds[0].build_crn}:train")}
    assert second.updates == 0
    build = client.find_entity("ml_model_build", second.builds[0].build_crn)
    assert build is not None and build.attributes["metadata"] == {"query": "select * from wineds_ext"}


def test_uncommitted_changes_are_not_read(make_project: Callable[..., Path], catalog: Catalog,
                                          client: CountingClient) -> None:
    repo = make_project(WINE, name="dirty")
    (repo / "lineage.yml").write_text(json.dumps({"other model": {}}))
    res = catalog.build(repo)
    assert [b.model_name for b in res.builds] == [MODEL]


def _working_tree_notes(res: SyncResult) -> list[str]:
    return [n for n in res.notes if "working tree" in n]


def test_a_lineage_file_that_differs_from_head_is_noted(make_project: Callable[..., Path],
                                                        catalog: Catalog) -> None:
    repo = make_project(WINE, name="noted")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert _working_tree_notes(catalog.build(repo)) == []  # committed as it is: nothing to say

    (repo / "lineage.yml").write_text(WINE.replace("wineds_ext@cm", "wineds_v2@cm"))
    res = catalog.build(repo)
    assert _working_tree_notes(res) == [
        f"lineage.yml in the working tree differs from HEAD {head[:12]}: the build records the committed version "
        "(commit your change to record it)"]
    assert res.commit == head and (res.creates, res.updates) == (0, 0)  # and the build is the committed one

    (repo / "lineage.yml").unlink()
    assert _working_tree_notes(catalog.build(repo)) == [
        f"lineage.yml is deleted in the working tree but committed at HEAD {head[:12]}: the build records the "
        "committed version"]

    git(repo, "checkout", "--", "lineage.yml")
    assert _working_tree_notes(catalog.build(repo)) == []
    # A build replayed at a named commit is not about the working tree.
    (repo / "lineage.yml").write_text(json.dumps({"other model": {}}))
    assert _working_tree_notes(catalog.build(repo, commit=head)) == []


def test_working_tree_note_in_a_project_sub_directory(make_project: Callable[..., Path], catalog: Catalog) -> None:
    repo = make_project("{}", name="mono-repo", file_name="README.json")
    (repo / "churn").mkdir()
    commit = commit_file(repo, "churn/lineage.yaml", WINE)
    (repo / "churn" / "lineage.yaml").write_text(WINE + "\n# edited\n")
    res = catalog.build(repo / "churn")
    assert _working_tree_notes(res) == [
        f"churn/lineage.yaml in the working tree differs from HEAD {commit[:12]}: the build records the committed "
        "version (commit your change to record it)"]
    # Staged is not committed either; only a commit makes the note go.
    git(repo, "add", "churn/lineage.yaml")
    assert len(_working_tree_notes(catalog.build(repo / "churn"))) == 1
    commit_file(repo, "churn/lineage.yaml", WINE + "\n# edited\n")
    assert _working_tree_notes(catalog.build(repo / "churn")) == []


def test_bad_inputs_are_clear_errors(make_project: Callable[..., Path], catalog: Catalog, tmp_path: Path) -> None:
    repo = make_project(WINE, name="bad")
    with pytest.raises(InvalidInput, match="no model named 'nope'"):
        catalog.build(repo, ["nope"])
    plain = tmp_path / "not-git"
    plain.mkdir()
    with pytest.raises(InvalidInput, match="not a git repository"):
        catalog.build(plain)
    broken = make_project('"m":\n  hive_table_qualified_names: ["no_at_sign"]\n', name="broken")
    with pytest.raises(InvalidInput, match=r"lineage\.yml:2:"):
        catalog.build(broken)


def test_deployment_lineage_reaches_s3_through_hook_created_table(
        make_project: Callable[..., Path], catalog: Catalog, client: CountingClient) -> None:
    # What Atlas's Hive hook records for CREATE EXTERNAL TABLE ... LOCATION 's3a://wine-bucket/data/':
    hook = [
        EntitySpec(type_name="hive_db", qualified_name="hooked@cm", attributes={"name": "hooked", "clusterName": "cm"}),
        EntitySpec(type_name="aws_s3_v2_bucket", qualified_name="s3a://wine-bucket@cm",
                   attributes={"name": "wine-bucket"}),
    ]
    client.upsert(hook)
    client.upsert([EntitySpec(type_name="aws_s3_v2_directory", qualified_name="s3a://wine-bucket/data/@cm",
                              attributes={"name": "data", "objectPrefix": "/data/"},
                              relationships={"container": ObjectRef(type_name="aws_s3_v2_bucket",
                                                                    qualified_name="s3a://wine-bucket@cm")}),
                   EntitySpec(type_name="hive_table", qualified_name="hooked.wine@cm",
                              attributes={"name": "wine", "tableType": "EXTERNAL_TABLE"},
                              relationships={"db": ObjectRef(type_name="hive_db", qualified_name="hooked@cm")})])
    client.upsert([EntitySpec(type_name="hive_process", qualified_name="hooked.wine@cm:1700000000000", attributes={
        "name": "hooked.wine@cm:1700000000000", "startTime": 1, "endTime": 1, "userName": "hive",
        "operationType": "CREATETABLE", "queryText": "create external table ...", "queryPlan": "-", "queryId": "q"},
        relationships={"inputs": [ObjectRef(type_name="aws_s3_v2_directory",
                                            qualified_name="s3a://wine-bucket/data/@cm")],
                       "outputs": [ObjectRef(type_name="hive_table", qualified_name="hooked.wine@cm")]})])
    repo = make_project(json.dumps({"wine model": {"hive_table_qualified_names": ["hooked.wine@cm"]}}),
                        name="hooked-project")
    res = catalog.build(repo)
    table = client.find_entity("hive_table", "hooked.wine@cm")
    assert table is not None and "parameters" not in table.attributes  # the hook's table is not overwritten
    b = res.builds[0]
    dep_crn = b.build_crn.rsplit("/", 1)[0] + "/dep-1"
    catalog.record_deployment(DeploymentInput(
        crn=dep_crn, build_crn=b.build_crn, model_crn=b.model_crn, model_name=b.model_name, name="wine-dep",
        status="deployed", create_time_ms=1, deployed_time_ms=2, cpu_millicores=500, replicas=2))
    dep = client.find_entity("ml_model_deployment", dep_crn)
    assert dep is not None
    lin = client.lineage(dep.guid, "INPUT", 3)
    types = {e.type_name for e in lin.entities.values()}
    assert {"aws_s3_v2_directory", "hive_process", "hive_table", "ml_model_train_build_process", "ml_model_build",
            "ml_model_deploy_process", "ml_model_deployment"} <= types
    # depth counts dataset->process->dataset hops: 3 hops reach the S3 directory, 2 do not
    assert "aws_s3_v2_directory" not in {e.type_name for e in client.lineage(dep.guid, "INPUT", 2).entities.values()}
    # status changes go through the same path: only the deployment is updated
    before = client.write_requests
    catalog.record_deployment(DeploymentInput(
        crn=dep_crn, build_crn=b.build_crn, model_crn=b.model_crn, model_name=b.model_name, name="wine-dep",
        status="stopped", create_time_ms=1, deployed_time_ms=2, cpu_millicores=500, replicas=2))
    assert client.write_requests == before + 1
    dep = client.find_entity("ml_model_deployment", dep_crn)
    assert dep is not None and dep.attributes["status"] == "stopped"
