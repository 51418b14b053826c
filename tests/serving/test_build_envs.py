"""Builds are environments, on a real platform: two models pinning conflicting versions of one library are served
side by side, each with its own, and their packages are in the catalog's build entities and `builds logs`; a broken
requirement refuses the deploy with the build log's tail and records nothing; an uncommitted edit to a helper module
is not served (the replicas run the build's commit); a replica sees CML's variables with HOME at its project; a model
that takes 20 s to import deploys while the deploy shows its log, and one that outlasts the start timeout, or dies
at import, is refused with its log's last lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.conftest import ADMIN_KEY, Platform, auth, make_project, start_platform

pytestmark = pytest.mark.slow
MODEL_PY = '''
import six

import helper


def predict(args):
    return {"six": six.__version__, "helper": helper.VALUE}
'''


CML_MODEL_PY = '''
import json
import os
from pathlib import Path

LIMITS = Path("~/data/limits.txt").expanduser().read_text().strip()  # CML code reads its project under HOME


def predict(args):
    cml = {k: v for k, v in os.environ.items() if k.startswith("CDSW_")}
    return {"cml": json.dumps(cml), "home": os.environ["HOME"], "cwd": os.getcwd(), "limits": LIMITS}
'''
SLOW_MODEL_PY = '''
import time

for i in range({seconds}):  # as the seed's model.py, which loads Spark and warms up for ~30 s at import
    print(f"loading weights: part {{i + 1}} of {seconds}", flush=True)
    time.sleep(1)


def predict(args):
    return "ready"
'''
ADMIN = {"MLCATALOG_API_KEY": ADMIN_KEY}


def deploy(p: Platform, project: Path, model: str, check: bool = True) -> Any:
    out = p.cli("deploy", "--project-dir", str(project), "--model", model, "--file", "model.py", "--function",
                "predict", "--json", check=check, env=ADMIN)
    return json.loads(out.stdout) if check else out


def build_entity(p: Platform, build_crn: str) -> dict[str, Any]:
    """The build's attributes in the platform's Atlas, once the outbox has delivered its environment."""
    deadline = time.monotonic() + 20
    while True:
        r = httpx.get(f"{p.url}/api/atlas/v2/entity/uniqueAttribute/type/ml_model_build",
                      params={"attr:qualifiedName": build_crn}, auth=("admin", "pw"), timeout=10)
        attributes: dict[str, Any] = r.json()["entity"]["attributes"] if r.status_code == 200 else {}
        if attributes.get("packages") or time.monotonic() > deadline:
            return attributes
        time.sleep(0.2)


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
    # which library versions answered: the build's environment, from the platform and in the catalog
    env = json.loads(platform.cli("builds", "logs", a["buildCrn"], "--json", env=ADMIN).stdout)
    assert env["present"] and env["installed"]["six"] == "1.15.0" and env["packages"]["six"] == "1.15.0"
    assert "numpy" in env["packages"] and "numpy" not in env["installed"]  # the runtime's, underneath
    assert any("uv pip install" in line and "requirements.txt" in line for line in env["log"])
    shown = platform.cli("builds", "logs", b["buildCrn"], env=ADMIN).stdout
    assert "six==1.16.0" in shown and "==> build log <==" in shown
    entity = build_entity(platform, a["buildCrn"])
    assert entity["packages"]["six"] == "1.15.0" and entity["buildEnvironment"] == env["environment"]
    assert build_entity(platform, b["buildCrn"])["packages"]["six"] == "1.16.0"


def test_build_env_makes_the_environment_a_deploy_then_reuses(platform: Platform, tmp_path: Path) -> None:
    project = make_project(tmp_path / "prebuilt", {"model.py": MODEL_PY, "helper.py": "VALUE = 'x'\n",
                                                   "requirements.txt": "six==1.14.0\n"}, ["Prebuilt"])
    built = platform.cli("build", "--project-dir", str(project), "--allow-unresolved", "--json", "--env",
                         "--atlas-url", platform.url, env=ADMIN)
    key = built.stderr.split("environment ", 1)[1].split()[0]
    assert f"environment {key} made in" in built.stderr and "packages installed by the build" in built.stderr
    build_crn = json.loads(built.stdout)["builds"][0]["buildCrn"]
    assert build_entity(platform, build_crn)["packages"]["six"] == "1.14.0"  # recorded by the build itself
    out = platform.cli("deploy", "--project-dir", str(project), "--model", "Prebuilt", "--file", "model.py",
                       "--function", "predict", "--json", env=ADMIN)
    assert f"environment {key} reused" in out.stderr
    assert answer(platform, json.loads(out.stdout)["accessKey"])["six"] == "1.14.0"


def test_a_broken_requirement_refuses_the_deploy_with_the_log(platform: Platform, tmp_path: Path) -> None:
    broken = make_project(tmp_path / "broken", {"model.py": MODEL_PY, "helper.py": "VALUE = 1\n",
                                                "requirements.txt": "sklearn\n"}, ["Broken"])
    snapshots = set((platform.store / "builds").iterdir())
    out = deploy(platform, broken, "Broken", check=False)
    assert out.returncode == 1
    stderr = out.stderr
    assert "preparing its environment" in stderr  # the deploy's progress, then its refusal
    assert "installing requirements.txt failed" in stderr and "require 'scikit-learn' instead" in stderr
    assert "nothing was deployed" in stderr
    listed = json.loads(platform.cli("deployments", "--json", env=ADMIN).stdout)
    assert [d for d in listed if d["model_name"] == "Broken"] == []  # nothing recorded, nothing half-made
    assert set((platform.store / "builds").iterdir()) == snapshots


def test_a_replica_sees_cml_variables_and_home_at_its_project(platform: Platform, tmp_path: Path) -> None:
    project = make_project(tmp_path / "cml-vars", {"model.py": CML_MODEL_PY, "data/limits.txt": "0.7\n"}, ["Vars"])
    d = deploy(platform, project, "Vars")
    seen = answer(platform, d["accessKey"])
    # the build's snapshot of its commit, as /home/cdsw is the project in a CML engine
    assert seen["home"] == seen["cwd"] == str(platform.store / "builds" / d["crn"].rsplit("/", 1)[-1])
    assert seen["limits"] == "0.7"
    cml = json.loads(seen["cml"])
    assert cml["CDSW_PROJECT"] == "cml-vars" and cml["CDSW_ENGINE_ID"].startswith("vars-")
    assert cml["CDSW_CPU_MILLICORES"] == "1000" and cml["CDSW_MEMORY_MB"] == "2048"
    assert cml["CDSW_DOMAIN"] == platform.url.removeprefix("http://")
    assert cml["CDSW_MODEL_DEPLOYMENT_CRN"] == d["crn"] and cml["CDSW_MODEL_BUILD_CRN"] == d["buildCrn"]
    assert cml["CDSW_PROJECT_ID"] and cml["CDSW_PROJECT_ID"] in platform.cli(
        "deployments", "--json", env=ADMIN).stdout


def test_a_model_that_imports_for_20_seconds_deploys_showing_its_log(platform: Platform, tmp_path: Path) -> None:
    project = make_project(tmp_path / "slow", {"model.py": SLOW_MODEL_PY.format(seconds=20)}, ["Slow"])
    started = time.monotonic()
    out = platform.cli("deploy", "--project-dir", str(project), "--model", "Slow", "--file", "model.py",
                       "--function", "predict", env=ADMIN)
    took = time.monotonic() - started
    assert took >= 20 and "deployed Slow" in out.stdout
    assert "ready once model.py is imported (start timeout 120s)" in out.stderr
    progress = [line for line in out.stderr.splitlines() if "] loading weights" in line]
    assert len(progress) >= 10 and len(set(progress)) == len(progress), out.stderr  # shown as they come, once
    print(f"\n20 s import: deployed in {took:.1f}s, {len(progress)} log lines shown while it waited")


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with start_platform(tmp_path_factory.mktemp("impatient") / "store", {"MLCATALOG_START_TIMEOUT": "4"}) as p:
        yield p


def test_the_start_timeout_is_configurable_and_a_death_at_import_shows_its_traceback(impatient: Platform,
                                                                                     tmp_path: Path) -> None:
    slow = make_project(tmp_path / "slower", {"model.py": SLOW_MODEL_PY.format(seconds=30)}, ["Slower"])
    out = deploy(impatient, slow, "Slower", check=False)
    assert out.returncode == 1 and "not ready after 4s" in out.stderr and "loading weights" in out.stderr
    dying = make_project(tmp_path / "dying", {"model.py": "import json\nraise ValueError('no weights in models/')\n"
                                              "def predict(args):\n    return 1\n"}, ["Dying"])
    out = deploy(impatient, dying, "Dying", check=False)
    assert out.returncode == 1 and "exited with code 1: ValueError: no weights in models/" in out.stderr
    # the log's last lines shown whole as the replica died, before the one-line refusal
    assert "Traceback (most recent call last)" in out.stderr and 'model.py", line 2' in out.stderr, out.stderr
