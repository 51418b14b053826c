"""lint_paths, the lint/schema command functions, and the pre-commit hook definition."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from catalog.lineagefile import lineage_json_schema, lint_paths
from catalog.lineagefile.cli import lint_command, schema_command

from .conftest import EXAMPLES, INVALID, REPO_ROOT, VALID_EXAMPLES


def test_lint_valid_files_and_directories_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [*VALID_EXAMPLES, *(p.parent for p in VALID_EXAMPLES)]
    assert lint_command(paths) == 0
    assert capsys.readouterr() == ("", "")


def test_lint_prints_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [INVALID / "bad_qualified_name.yml", EXAMPLES / "wine_demo", INVALID / "unknown_key.yml"]
    assert lint_command(paths) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        f'{INVALID}/bad_qualified_name.yml:4:7: expected a qualified name like "db.table@namespace", '
        'got "default.wineds"',
        f'{INVALID}/bad_qualified_name.yml:5:7: expected a qualified name like "db.table@namespace", '
        "got \"default.wineds@cm'; drop table x; --\"",
        f'{INVALID}/unknown_key.yml:3:3: unknown key "hive_tables" in model "Churn Model"; '
        'did you mean "hive_table_qualified_names"?',
    ]


def test_lint_every_invalid_example_fails() -> None:
    for path in INVALID.iterdir():
        assert lint_paths([path]), path


def test_lint_missing_paths_and_directories_without_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint_command([tmp_path / "nope.yml", tmp_path]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}/nope.yml:1:1: no such file or directory",
        f"{tmp_path}:1:1: no lineage.yml or lineage.yaml in this directory",
    ]


def test_lint_directory_with_both_names(tmp_path: Path) -> None:
    (tmp_path / "lineage.yml").write_text("M: {}\n")
    (tmp_path / "lineage.yaml").write_text("M: {}\n")
    assert [str(p) for p in lint_paths([tmp_path])] == [
        f"{tmp_path}/lineage.yaml:1:1: both lineage.yml and lineage.yaml exist in this directory; keep one"
    ]


def test_lint_without_paths_checks_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lineage.yaml").write_text("M:\n  tables: []\n")
    assert lint_command([]) == 1
    assert capsys.readouterr().out == (
        'lineage.yaml:2:3: unknown key "tables" in model "M"; did you mean "hive_table_qualified_names"?\n'
    )
    (tmp_path / "lineage.yaml").write_text("M: {}\n")
    assert lint_command([]) == 0


def test_lint_accepts_any_file_name(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"M": {"hive_table_qualified_names": ["default.t@cm"]}}')
    assert lint_paths([path]) == []


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema_command()
    out = capsys.readouterr().out
    assert json.loads(out) == lineage_json_schema()
    assert out.startswith('{\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n')


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "mlcatalog-lint"
    assert hook["entry"] == "mlcatalog lint"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    for name in ["lineage.yml", "lineage.yaml", "projects/churn/lineage.yml"]:
        assert files.search(name), name
    for name in ["my_lineage.yml", "lineage.yml.bak", "lineage.json", "invalid/unknown_key.yml"]:
        assert not files.search(name), name
