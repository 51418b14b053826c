"""The catalog commands as real processes (`python -m mlcatalog ...`): build, lineage, impact, lint, lineage-schema.

They talk over HTTP to a module-private embedded Atlas (tests/conftest.start_atlas), exactly as to a real one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.atlas.client import AtlasCatalogClient
from catalog.crn import CrnScope
from catalog.sync.builder import DeploymentInput
from catalog.sync.engine import Catalog
from mlcatalog.cli import app
from tests.api.support import (
    CHURN_MODEL,
    CHURN_TABLES,
    REPO_ROOT,
    TWO_MODELS,
    WINE_MODEL,
    WINE_TABLES,
    clean_env,
    commit_file,
    make_project,
    run_cli,
)
from tests.conftest import ATLAS_PASSWORD, RunningAtlas, free_port, start_atlas

EXAMPLES = REPO_ROOT / "lineage_yml_examples"
CRN_RE = r"crn:cdp:ml:[a-z0-9-]*:[^:\s]*:workspace:[^\s/]+/[0-9a-f-]{36}"
BUILD_LINE = re.compile(rf"^\s+(?P<model>.+): build v(?P<version>\d+) (?P<crn>{CRN_RE})(?P<rest>.*)$")


@dataclass
class Built:
    atlas: RunningAtlas
    work: Path
    repo: Path
    first: subprocess.CompletedProcess[str]
    project_crn: str
    builds: dict[str, tuple[int, str]]  # model -> (version, build CRN)
    model_crns: dict[str, str]
    deployment_crn: str

    def env(self, **extra: str) -> dict[str, str]:
        env = clean_env(**{"MLCATALOG_ATLAS_URL": self.atlas.url, "MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD,
                           **extra})
        # as when piped to a file or another program: no terminal width to inherit
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        return env

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The command in this process (typer's runner): fast; the real-process paths are tested separately."""
        return invoke(*args, env=self.env(**extra))

    def proc(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The command as a real `python -m mlcatalog` process (stdout a pipe, not a terminal)."""
        return run_cli(self.work, *args, env=self.env(**extra))


def invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`mlcatalog <args>` in-process with exactly ``env``'s MLCATALOG_* settings; a crash shows as a traceback."""
    full: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MLCATALOG_") or k in (
        "COLUMNS", "LINES")}
    full.update({k: v for k, v in env.items() if k.startswith("MLCATALOG_")})
    result = CliRunner().invoke(app, list(args), env=full, prog_name="mlcatalog")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["mlcatalog", *args], result.exit_code, result.stdout, stderr)


def parse_builds(stdout: str) -> dict[str, tuple[int, str]]:
    out = {}
    for line in stdout.splitlines():
        m = BUILD_LINE.match(line)
        if m:
            out[m["model"]] = (int(m["version"]), m["crn"])
    return out


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("cli-catalog-atlas"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def built(atlas: RunningAtlas, tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("cli-catalog")
    repo = make_project(work, TWO_MODELS)
    env = clean_env()
    first = run_cli(work, "build", "--project-dir", str(repo), "--atlas-url", atlas.url,
                    "--atlas-password", ATLAS_PASSWORD, env=env)
    assert first.returncode == 0, first.stderr
    m = re.search(rf"^project (?P<crn>{CRN_RE}) @ ", first.stdout, re.M)
    assert m, first.stdout
    builds = parse_builds(first.stdout)
    assert set(builds) == {WINE_MODEL, CHURN_MODEL}, first.stdout
    model_crns: dict[str, str] = {}
    dep_crn = builds[WINE_MODEL][1].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-00000000d001"
    with AtlasCatalogClient(atlas.url, "admin", ATLAS_PASSWORD) as client:
        for model, (_, build_crn) in builds.items():
            b = client.find_entity("ml_model_build", build_crn)
            assert b is not None
            model_crns[model] = str(b.attributes["modelCrn"])
        # a deployment of the wine model, recorded the way the serving platform does (Catalog.record_deployment)
        Catalog(client, CrnScope("local", "mlcatalog", "default"), "primary").record_deployment(DeploymentInput(
            crn=dep_crn, build_crn=builds[WINE_MODEL][1], model_crn=model_crns[WINE_MODEL], model_name=WINE_MODEL,
            name="wine-dep", status="deployed", create_time_ms=1, deployed_time_ms=2, cpu_millicores=500,
            replicas=1))
    return Built(atlas, work, repo, first, m["crn"], builds, model_crns, dep_crn)


# -- build ------------------------------------------------------------------------------------------


def test_build_text_output(built: Built) -> None:
    out = built.first.stdout.splitlines()
    assert re.match(rf"^project {CRN_RE} @ [0-9a-f]{{12}}$", out[0]), out
    commit = subprocess.run(["git", "-C", str(built.repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert out[0].endswith(commit[:12])
    assert built.builds[WINE_MODEL][0] == 1 and built.builds[CHURN_MODEL][0] == 1
    assert any(f"{WINE_MODEL}: build v1 " in line for line in out)
    assert re.match(r"^\d+ created, 0 updated$", out[-1]), out
    assert int(out[-1].split()[0]) > 0
    # every build is named by its CRN and by the guid Atlas's own clients address it by
    with AtlasCatalogClient(built.atlas.url, "admin", ATLAS_PASSWORD) as client:
        for line in out:
            m = BUILD_LINE.match(line)
            if m:
                entity = client.find_entity("ml_model_build", m["crn"])
                assert entity is not None and m["rest"].startswith(f" (guid {entity.guid})"), line
    # no HiveServer2: "declared only", said once, and not an error
    notes = [line for line in built.first.stderr.splitlines() if "declared" in line]
    assert len(notes) == 1, built.first.stderr
    assert "error" not in built.first.stderr.lower()


def test_rebuild_of_same_commit_changes_nothing(built: Built) -> None:
    again = built.cli("build", "--project-dir", str(built.repo))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "0 created, 0 updated"
    assert parse_builds(again.stdout) == built.builds
    assert "unchanged" in again.stdout


def test_build_json_and_new_commit_increments_version(built: Built, tmp_path: Path) -> None:
    repo = make_project(tmp_path, json.dumps({"versioned": {"hive_table_qualified_names": WINE_TABLES}}),
                        name="versioned")
    first = json.loads(built.cli("build", "--project-dir", str(repo), "--json").stdout)
    assert [(b["model"], b["version"], b["new"]) for b in first["builds"]] == [("versioned", 1, True)]
    commit = commit_file(repo, "lineage.yml", json.dumps({"versioned": {
        "hive_table_qualified_names": WINE_TABLES[:1], "metadata": {"query": "select 1"}}}))
    res = built.cli("build", "--project-dir", str(repo), "--json")
    assert res.returncode == 0, res.stderr
    second = json.loads(res.stdout)
    assert second["commit"] == commit
    assert second["projectCrn"] == first["projectCrn"]
    [b] = second["builds"]
    assert (b["version"], b["new"]) == (2, True)
    assert b["modelCrn"] == first["builds"][0]["modelCrn"]
    assert b["buildCrn"] != first["builds"][0]["buildCrn"]
    with AtlasCatalogClient(built.atlas.url, "admin", ATLAS_PASSWORD) as client:
        build = client.find_entity("ml_model_build", b["buildCrn"])
    assert build is not None
    assert build.attributes["metadata"] == {"query": "select 1"}
    assert build.attributes["gitCommit"] == commit and build.attributes["version"] == 2


def test_build_one_model_with_model_flag(built: Built, tmp_path: Path) -> None:
    repo = make_project(tmp_path, TWO_MODELS, name="selective")
    res = built.cli("build", "--project-dir", str(repo), "--model", CHURN_MODEL)
    assert res.returncode == 0, res.stderr
    assert set(parse_builds(res.stdout)) == {CHURN_MODEL}


def test_build_unknown_model_lists_the_models(built: Built) -> None:
    line = one_line_error(built.cli("build", "--project-dir", str(built.repo), "--model", "nope"))
    assert "nope" in line
    assert WINE_MODEL in line and CHURN_MODEL in line


def test_build_outside_a_git_repository(built: Built, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "lineage.yml").write_text(TWO_MODELS)
    line = one_line_error(built.cli("build", "--project-dir", str(plain)))
    assert "git" in line


def test_build_with_invalid_committed_lineage_file(built: Built, tmp_path: Path) -> None:
    repo = make_project(tmp_path, '"m":\n  hive_table_qualified_names: ["no_at_sign"]\n"n": 5\n', name="broken")
    res = built.cli("build", "--project-dir", str(repo))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, res.stderr  # one line per problem
    assert re.search(r"lineage\.yml:2:\d+: ", lines[0]), lines
    assert re.search(r"lineage\.yml:3:\d+: ", lines[1]), lines
    assert "no_at_sign" in lines[0]


def test_build_with_s3_sources_records_them_as_train_inputs(built: Built, tmp_path: Path) -> None:
    repo = make_project(tmp_path, (EXAMPLES / "s3_sources" / "lineage.yml").read_text(), name="s3-project")
    res = built.cli("build", "--project-dir", str(repo))
    assert res.returncode == 0, res.stderr
    notes = res.stderr.splitlines()
    assert sum("S3" in n for n in notes) == 1, notes  # said once, though two models read S3
    assert sum("HiveServer2" in n for n in notes) == 1, notes
    builds = parse_builds(res.stdout)
    assert set(builds) == {"Predict w/ Monitoring & Lineage", "Wine Quality (sklearn)"}
    tree = json.loads(built.cli("lineage", builds["Wine Quality (sklearn)"][1], "--json").stdout)
    assert tree["type_name"] == "ml_model_build"
    [train] = tree["upstream"]
    assert train["type_name"] == "ml_model_train_build_process"
    inputs = {(n["type_name"], n["qualified_name"]) for n in train["upstream"]}
    s3 = {qn for t, qn in inputs if t == "aws_s3_v2_directory"}
    assert any(qn.startswith("s3a://wine-quality-data/red/") or qn.startswith("s3://wine-quality-data/red/")
               for qn in s3), inputs
    assert any("wine-quality-data/white/2020-05-11/" in qn for qn in s3), inputs
    assert not {t for t, _ in inputs} & {"hive_table"}
    # The other model reads one file: an S3 object (in its directory chain), not a directory named after it.
    predict = builds["Predict w/ Monitoring & Lineage"][1]
    tree = json.loads(built.cli("lineage", predict, "--json").stdout)
    [train] = tree["upstream"]
    [obj] = [n for n in train["upstream"] if n["type_name"] == "aws_s3_v2_object"]
    file_uri = "s3a://mlamairesse/wine_dataset/data/WineNewGBTDataSet.csv"
    assert obj["qualified_name"].startswith(file_uri + "@") and obj["name"] == "WineNewGBTDataSet.csv"
    assert not any(n["qualified_name"].startswith(file_uri + "/") for n in train["upstream"])
    for given in (file_uri, "s3a://mlamairesse/wine_dataset/"):
        impact = json.loads(built.cli("impact", given, "--json").stdout)
        assert [b["crn"] for b in impact["builds"]] == [predict], given


def test_build_notes_a_lineage_file_that_differs_from_head(built: Built, tmp_path: Path) -> None:
    repo = make_project(tmp_path, json.dumps({"noted": {"hive_table_qualified_names": WINE_TABLES}}), name="noted")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (repo / "lineage.yml").write_text(json.dumps({"noted": {"hive_table_qualified_names": WINE_TABLES[:1]}}))
    note = (f"lineage.yml in the working tree differs from HEAD {head[:12]}: the build records the committed "
            "version (commit your change to record it)")
    res = built.proc("build", "--project-dir", str(repo))
    assert res.returncode == 0, res.stderr
    assert f"note: {note}" in res.stderr.splitlines(), res.stderr
    assert note not in res.stdout
    as_json = built.cli("build", "--project-dir", str(repo), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert note in json.loads(as_json.stdout)["notes"]
    commit_file(repo, "lineage.yml", (repo / "lineage.yml").read_text())
    committed = built.cli("build", "--project-dir", str(repo))
    assert committed.returncode == 0 and "working tree" not in committed.stderr, committed.stderr


# -- lineage and impact -----------------------------------------------------------------------------


def test_lineage_of_a_deployment_prints_a_tree(built: Built) -> None:
    res = built.proc("lineage", built.deployment_crn)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    lines = out.splitlines()
    assert built.deployment_crn in lines[0]  # the root: the deployment, with its full CRN
    assert built.builds[WINE_MODEL][1] in out  # the build's full CRN
    for table in WINE_TABLES:
        assert table in out
    assert built.project_crn in out
    assert built.builds[CHURN_MODEL][1] not in out and CHURN_TABLES[0] not in out
    # a tree: the tables are indented deeper than the build, which is deeper than the deployment
    depth = {what: next(len(line) - len(line.lstrip(" │├└─")) for line in lines if what in line)
             for what in (built.deployment_crn, built.builds[WINE_MODEL][1], WINE_TABLES[0])}
    assert depth[built.deployment_crn] < depth[built.builds[WINE_MODEL][1]] < depth[WINE_TABLES[0]]
    # each node also gives its guid (what Atlas's official client addresses an entity by)
    with AtlasCatalogClient(built.atlas.url, "admin", ATLAS_PASSWORD) as client:
        for type_name, qn in (("ml_model_deployment", built.deployment_crn),
                              ("ml_model_build", built.builds[WINE_MODEL][1]), ("hive_table", WINE_TABLES[0])):
            entity = client.find_entity(type_name, qn)
            assert entity is not None
            assert any(f"{qn} (guid {entity.guid})" in line for line in lines), (qn, out)


def test_lineage_json(built: Built) -> None:
    res = built.cli("lineage", built.deployment_crn, "--json")
    assert res.returncode == 0, res.stderr
    tree: dict[str, Any] = json.loads(res.stdout)
    assert (tree["type_name"], tree["qualified_name"]) == ("ml_model_deployment", built.deployment_crn)

    def walk(n: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield n
        for u in n["upstream"]:
            yield from walk(u)

    found = {(n["type_name"], n["qualified_name"]) for n in walk(tree)}
    assert ("ml_model_build", built.builds[WINE_MODEL][1]) in found
    assert {("hive_table", t) for t in WINE_TABLES} <= found
    assert {"ml_model_deploy_process", "ml_model_train_build_process", "ml_project"} <= {t for t, _ in found}


def test_lineage_of_a_table_by_qualified_name(built: Built) -> None:
    res = built.cli("lineage", WINE_TABLES[1])
    assert res.returncode == 0, res.stderr
    assert WINE_TABLES[1] in res.stdout.splitlines()[0]


def test_lineage_of_unknown_name(built: Built) -> None:
    line = one_line_error(built.cli("lineage", "default.no_such_table@cm"))
    assert "default.no_such_table@cm" in line


def test_impact_of_a_table_lists_the_deployment(built: Built) -> None:
    res = built.cli("impact", "default.wineds_ext@cm")
    assert res.returncode == 0, res.stderr
    assert built.deployment_crn in res.stdout
    with AtlasCatalogClient(built.atlas.url, "admin", ATLAS_PASSWORD) as client:
        dep = client.find_entity("ml_model_deployment", built.deployment_crn)
    assert dep is not None and f"{built.deployment_crn} (guid {dep.guid})" in res.stdout
    assert built.builds[WINE_MODEL][1] in res.stdout
    assert built.builds[CHURN_MODEL][1] not in res.stdout
    data = json.loads(built.cli("impact", "default.wineds_ext@cm", "--json").stdout)
    assert built.deployment_crn in {d["crn"] for d in data["deployments"]}


def test_impact_of_a_build_and_of_nothing(built: Built) -> None:
    res = built.cli("impact", built.builds[WINE_MODEL][1])
    assert res.returncode == 0, res.stderr
    assert built.deployment_crn in res.stdout
    churn = built.cli("impact", CHURN_TABLES[0])
    assert churn.returncode == 0 and built.deployment_crn not in churn.stdout
    line = one_line_error(built.cli("impact", "default.no_such_table@cm"))
    assert "default.no_such_table@cm" in line


def test_wrong_atlas_password_is_a_one_line_error(built: Built) -> None:
    line = one_line_error(built.cli("impact", "default.wineds_ext@cm", MLCATALOG_ATLAS_PASSWORD="wrong"))
    assert "401" in line or "auth" in line.lower()


def test_atlas_user_flag_is_used(built: Built) -> None:
    line = one_line_error(built.cli("impact", "default.wineds_ext@cm", "--atlas-user", "nobody"))
    assert "401" in line or "auth" in line.lower()
    ok = built.cli("impact", "default.wineds_ext@cm", "--atlas-user", "admin", "--atlas-password", ATLAS_PASSWORD,
                   MLCATALOG_ATLAS_PASSWORD="wrong")  # the flag wins over the environment
    assert ok.returncode == 0, ok.stderr


def test_default_atlas_url_is_the_local_mlcatalog_up() -> None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 21000)) == 0:
            pytest.skip("something listens on 127.0.0.1:21000")
    line = one_line_error(invoke("impact", "default.wineds_ext@cm", env=clean_env()))
    assert "not reachable" in line and "127.0.0.1:21000" in line


def test_closed_port_is_not_reachable_without_traceback(built: Built, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    commands = (("build", "--project-dir", str(built.repo)), ("lineage", built.deployment_crn),
                ("impact", "default.wineds_ext@cm"), ("typedefs", "apply"))
    procs = [subprocess.Popen([sys.executable, "-m", "mlcatalog", *args, "--atlas-url", url], cwd=tmp_path,
                              env=clean_env(MLCATALOG_ATLAS_PASSWORD="x"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in commands]
    try:
        for args, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(timeout=60)
            line = one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
            assert "not reachable" in line, (args, line)
            assert url.split("//")[1] in line
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


# -- lint and lineage-schema (no Atlas) -------------------------------------------------------------


def test_lint_valid_examples(tmp_path: Path) -> None:
    valid = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name != "invalid")
    assert valid, "no valid examples"
    res = invoke("lint", *map(str, valid), env=clean_env())
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == ""


def test_lint_invalid_examples(tmp_path: Path) -> None:
    invalid = sorted((EXAMPLES / "invalid").iterdir())
    assert invalid
    res = run_cli(tmp_path, "lint", *map(str, invalid), env=clean_env())
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stdout.strip().splitlines()
    for path in invalid:  # every invalid example is reported, each problem as path:line:column: message
        assert any(line.startswith(f"{path}:") for line in lines), (path, lines)
    for line in lines:
        assert re.match(rf"^({'|'.join(re.escape(str(p)) for p in invalid)}):\d+:\d+: \S", line), line


def test_lint_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "lineage.yml"
    bad.write_text('"m":\n  hive_table_qualified_names: ["no_at_sign"]\n')
    res = invoke("lint", str(bad), env=clean_env())
    assert res.returncode == 1
    assert re.match(rf"^{re.escape(str(bad))}:2:\d+: .*no_at_sign", res.stdout), res.stdout


def test_lineage_schema(tmp_path: Path) -> None:
    res = invoke("lineage-schema", env=clean_env())
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    assert "$schema" in schema
    assert "hive_table_qualified_names" in res.stdout
