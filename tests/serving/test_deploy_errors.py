"""`mlcatalog deploy` with bad input: a one-line error naming the problem, and nothing recorded (no deployment, no
catalog write queued)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.serving.conftest import Platform, commit_change, make_project

MODEL_PY = "def predict(args):\n    return {'echo': args}\n"


@pytest.fixture(scope="module")
def key(platform: Platform) -> str:
    return platform.cli("api-keys", "create", "deploy-errors", "--role", "deployer", "--project", "*").stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy-errors")
    (root / "outside.py").write_text(MODEL_PY)
    proj = make_project(root / "proj", {"model.py": MODEL_PY, "broken.py": "def predict(args)\n    return 1\n",
                                        "other.py": "def predikt(args):\n    return 1\n"}, ["Echo"])
    (proj / "untracked.py").write_text(MODEL_PY)
    return proj


def deploy(platform: Platform, key: str, project: Path, *, model: str = "Echo", file: str = "model.py",
           function: str = "predict") -> str:
    """The one-line error of a refused deploy."""
    out = platform.cli("deploy", "--project-dir", str(project), "--model", model, "--file", file, "--function",
                       function, "--json", check=False, env={"MLCATALOG_API_KEY": key})
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlcatalog: error: "), out.stderr
    assert out.stdout == ""
    return lines[0].removeprefix("mlcatalog: error: ")


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"file": "missing.py"}, "model file {project}/missing.py does not exist"),
    ({"file": "../outside.py"}, "model file ../outside.py is outside the project directory {project}"),
    ({"function": "predict()"}, "function name 'predict()' is not a Python identifier"),
    ({"function": "absent"}, "model.py defines no function 'absent' (functions: predict)"),
    ({"file": "other.py"}, "other.py defines no function 'predict' (functions: predikt)"),
    ({"file": "broken.py"}, "broken.py:1: expected ':'"),
    ({"model": "Nope"}, "lineage.yml: no model named 'Nope' (models: 'Echo')"),
    ({"file": "untracked.py"}, "untracked.py is not committed (not in commit "),
])
def test_bad_input_is_refused_before_anything_is_recorded(platform: Platform, key: str, project: Path,
                                                          kwargs: dict[str, str], expected: str) -> None:
    message = deploy(platform, key, project, **kwargs)
    assert message.startswith(expected.format(project=project.resolve())), message
    assert_nothing_recorded(platform, key)


def test_a_missing_project_directory(platform: Platform, key: str, project: Path) -> None:
    missing = project.parent / "nope"
    assert deploy(platform, key, missing) == f"project directory {missing} does not exist"
    assert_nothing_recorded(platform, key)


def test_uncommitted_changes_to_the_model_file_are_refused(platform: Platform, key: str, tmp_path: Path) -> None:
    proj = make_project(tmp_path / "proj", {"model.py": MODEL_PY}, ["Echo"])
    (proj / "model.py").write_text(MODEL_PY.replace("echo", "changed"))
    message = deploy(platform, key, proj)
    assert message.startswith("model.py has changes that are not committed (differs from commit ")
    assert message.endswith("commit it, so that the build the catalog records is the code that is served")
    assert_nothing_recorded(platform, key)


def test_a_lineage_file_error_names_file_and_line(platform: Platform, key: str, tmp_path: Path) -> None:
    proj = make_project(tmp_path / "proj", {"model.py": MODEL_PY}, ["Echo"])
    commit_change(proj, "lineage.yml", "Echo:\n  hive_table_qualified_names: [\n", "broken lineage")
    assert deploy(platform, key, proj).startswith("lineage.yml:")
    assert_nothing_recorded(platform, key)


def assert_nothing_recorded(platform: Platform, key: str) -> None:
    env = {"MLCATALOG_API_KEY": key}
    assert json.loads(platform.cli("deployments", "--json", env=env).stdout) == []
    assert json.loads(platform.cli("outbox", "--json", "--all", env=env).stdout) == []
