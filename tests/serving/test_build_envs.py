"""Builds are environments, on a real platform: two models pinning conflicting versions of one library are served
side by side, each with its own; a broken requirement refuses the deploy with the build log's tail; an uncommitted
edit to a helper module is not served (the replicas run the build's commit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.conftest import ADMIN_KEY, Platform, auth, make_project

pytestmark = pytest.mark.slow
MODEL_PY = '''
import six

import helper


def predict(args):
    return {"six": six.__version__, "helper": helper.VALUE}
'''


def deploy(p: Platform, project: Path, model: str, check: bool = True) -> Any:
    out = p.cli("deploy", "--project-dir", str(project), "--model", model, "--file", "model.py", "--function",
                "predict", "--json", check=check, env={"MLCATALOG_API_KEY": ADMIN_KEY})
    return json.loads(out.stdout) if check else out


def answer(p: Platform, key: str) -> dict[str, str]:
    r = httpx.post(f"{p.url}/model", json={"accessKey": key, "request": {}}, headers=auth(ADMIN_KEY), timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json()["response"]["prediction"])


def test_conflicting_pins_are_served_side_by_side_and_the_commit_is_what_runs(platform: Platform,
                                                                              tmp_path: Path) -> None:
    files = {"model.py": MODEL_PY, "helper.py": "VALUE = 'committed'\n"}
    old = make_project(tmp_path / "old-six", {**files, "requirements.txt": "six==1.15.0\n"}, ["Old"])
    new = make_project(tmp_path / "new-six", {**files, "requirements.txt": "six==1.16.0\n"}, ["New"])
    (old / "helper.py").write_text("VALUE = 'uncommitted edit'\n")
    a, b = deploy(platform, old, "Old"), deploy(platform, new, "New")
    assert answer(platform, a["accessKey"]) == {"six": "1.15.0", "helper": "committed"}
    assert answer(platform, b["accessKey"]) == {"six": "1.16.0", "helper": "committed"}


def test_a_broken_requirement_refuses_the_deploy_with_the_log(platform: Platform, tmp_path: Path) -> None:
    broken = make_project(tmp_path / "broken", {"model.py": MODEL_PY, "helper.py": "VALUE = 1\n",
                                                "requirements.txt": "sklearn\n"}, ["Broken"])
    out = deploy(platform, broken, "Broken", check=False)
    assert out.returncode == 1
    stderr = out.stderr
    assert "installing requirements.txt failed" in stderr and "require 'scikit-learn' instead" in stderr
    listed = json.loads(platform.cli("deployments", "--json", env={"MLCATALOG_API_KEY": ADMIN_KEY}).stdout)
    assert [d["status"] for d in listed if d["model_name"] == "Broken"] == ["stopped"]
