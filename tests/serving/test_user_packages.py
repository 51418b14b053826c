"""User code owns its names: a project with its own ``serving``, ``catalog`` or ``typedefs`` package gets its own
inside a replica, ``mlcatalog`` is not there for it, ``cdsw`` is our SDK, and the SDK keeps working."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.metrics import sqlite_url
from serving.replica import OWN_PACKAGES, HideOwnPackages, seal_own_packages
from tests.metrics.conftest import PgServer, _admin_url
from tests.serving.conftest import REPO, Platform, auth, deploy, make_project, start_platform

USER_PACKAGES = {
    "serving/__init__.py": 'WHO = "the project\'s serving"\n',
    "serving/util.py": "def double(x):\n    return 2 * x\n",
    "catalog/__init__.py": 'WHO = "the project\'s catalog"\n',
    "typedefs/__init__.py": 'WHO = "the project\'s typedefs"\n',
}
MODEL_PY = '''
import importlib

import catalog
import cdsw
import serving
import typedefs
from serving.util import double


def _import_error(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        return e.name
    return None


def predict(args):
    if "truth_for" in args:  # ground truth for an earlier prediction, from inside the replica
        cdsw.track_delayed_metrics({"truth": args["truth"]}, args["truth_for"])
        return {"read": cdsw.read_metrics(model_deployment_crn=args["crn"])["metrics"]}
    cdsw.track_metric("x", args["x"])
    cdsw.track_metric("who", serving.WHO)
    return {"serving": serving.WHO, "catalog": catalog.WHO, "typedefs": typedefs.WHO, "double": double(args["x"]),
            "mlcatalog": _import_error("mlcatalog"), "serving.sdk": _import_error("serving.sdk"),
            "cdsw": cdsw.track_metric.__module__}
'''


# Our packages, wherever this mlcatalog is installed (in pytest's process the name ``serving`` is tests/serving/).
OWN_ROOT = Path(seal_own_packages.__code__.co_filename).resolve().parents[1]
OWN_DIRS = [OWN_ROOT / name for name in OWN_PACKAGES]


# -- the finder, in this process (it is not installed here: asked directly) --------------------------------------
def test_the_finder_finds_the_projects_package_and_never_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    project = tmp_path / "project"
    (project / "serving").mkdir(parents=True)
    (project / "serving" / "__init__.py").write_text("")
    (project / "serving" / "extra.py").write_text("")
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.syspath_prepend(str(OWN_ROOT))  # ours first on sys.path: the finder must look past it
    finder = HideOwnPackages(OWN_PACKAGES, OWN_DIRS)

    spec = finder.find_spec("serving", None)
    assert spec is not None and spec.origin == str(project / "serving" / "__init__.py")
    sub = finder.find_spec("serving.extra", [str(OWN_ROOT / "serving"), str(project / "serving")])
    assert sub is not None and sub.origin == str(project / "serving" / "extra.py")
    for name, path in (("mlcatalog", None), ("typedefs", None), ("serving.sdk", [str(OWN_ROOT / "serving")])):
        with pytest.raises(ModuleNotFoundError) as e:
            finder.find_spec(name, path)
        assert e.value.name == name
    # other names are none of its business
    assert finder.find_spec("cdsw", None) is None and finder.find_spec("json", None) is None


# -- a sealed process: what the replica does before it imports the model ------------------------------------------
SEALED_SCRIPT = r'''
import importlib
import json
import sys

from serving import sdk
from serving.replica import OWN_PACKAGES, seal_own_packages

cfg = json.loads(sys.argv[1])
sdk.configure_replica(cfg["deployment"], cfg["build"], cfg["model"], cfg["metrics_url"])
seal_own_packages()
sys.path.insert(0, cfg["project"])

import catalog, cdsw, serving, typedefs  # noqa: E401, E402

out = {"who": {m.__name__: m.WHO for m in (catalog, serving, typedefs)}, "missing": {}}
for name in ("mlcatalog", "mlcatalog.settings", "serving.sdk", "catalog.crn"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        out["missing"][name] = e.name


@cdsw.model_metrics
def predict(x):
    cdsw.track_metric("x", x)
    return 2 * x


first = predict(21)
cdsw.track_delayed_metrics({"truth": 40}, first["uuid"])
cdsw.track_aggregate_metrics({"drift": 0.25}, 5, 5)
out["uuid"] = first["uuid"]
out["read"] = cdsw.read_metrics(model_deployment_crn=cfg["deployment"])["metrics"]
out["loaded"] = {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
                 if n.partition(".")[0] in OWN_PACKAGES}
sdk._ctx().store.close()
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def pg_metrics_url() -> Iterator[str]:
    server = PgServer(_admin_url())
    try:
        yield server.create("sealed")
    finally:
        server.drop_all()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sealed_process_sees_the_projects_packages_and_the_sdk_still_works(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    project = tmp_path / "project"
    for name, text in USER_PACKAGES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    url = sqlite_url(tmp_path / "metrics.db") if backend == "sqlite" else str(request.getfixturevalue("pg_metrics_url"))
    crn = "crn:cdp:ml:us-west-1:acct:workspace:ws/"
    cfg = {"deployment": crn + str(uuid.uuid4()), "build": crn + str(uuid.uuid4()), "model": crn + str(uuid.uuid4()),
           "metrics_url": url, "project": str(project)}
    # Run from the repository: its directory is on sys.path ('') as well as installed, and must be looked past.
    proc = subprocess.run([sys.executable, "-c", SEALED_SCRIPT, json.dumps(cfg)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["who"] == {"catalog": "the project's catalog", "serving": "the project's serving",
                          "typedefs": "the project's typedefs"}
    assert out["missing"] == {"mlcatalog": "mlcatalog", "mlcatalog.settings": "mlcatalog",
                              "serving.sdk": "serving.sdk", "catalog.crn": "catalog.crn"}
    assert all(file and file.startswith(str(project)) for file in out["loaded"].values()), out["loaded"]
    by_uuid = {r["predictionUuid"]: r for r in out["read"]}
    assert set(by_uuid) == {out["uuid"], None}
    assert by_uuid[out["uuid"]]["metrics"] == {"x": 21, "truth": 40}
    assert by_uuid[None]["metrics"] == {"drift": 0.25} and by_uuid[None]["modelDeploymentCrn"] == cfg["deployment"]


# -- a real platform deploys such a project -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with start_platform(tmp_path_factory.mktemp("user-packages") / "store") as p:
        yield p


def test_a_project_with_its_own_serving_catalog_and_typedefs_deploys_and_predicts(
        platform: Platform, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {**USER_PACKAGES, "model.py": MODEL_PY}, ["Shadow"])
    key = platform.cli("api-keys", "create", "user-packages", "--role", "deployer", "--project", "*").stdout.strip()
    dep = deploy(platform, key, project, "Shadow", "model.py", "predict")

    def call(request: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(f"{platform.url}/model", json={"accessKey": dep["accessKey"], "request": request},
                       headers=auth(key), timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json()["response"])

    answer = call({"x": 21})
    assert answer["prediction"] == {
        "serving": "the project's serving", "catalog": "the project's catalog", "typedefs": "the project's typedefs",
        "double": 42, "mlcatalog": "mlcatalog", "serving.sdk": "serving.sdk", "cdsw": "serving.sdk"}
    # the SDK, sealed away from user code, still writes and reads the store from inside the replica
    read = call({"truth_for": answer["uuid"], "truth": 40, "crn": dep["crn"]})["prediction"]["read"]
    assert {r["predictionUuid"]: r["metrics"] for r in read if r["predictionUuid"] == answer["uuid"]} == {
        answer["uuid"]: {"x": 21, "who": "the project's serving", "truth": 40}}
    # ... and the platform reads what it wrote
    r = httpx.get(f"{platform.url}/api/v1/metrics", headers=auth(key), timeout=30,
                  params={"model_deployment_crn": dep["crn"]})
    assert r.status_code == 200, r.text
    records = {m["predictionUuid"]: m for m in r.json()["metrics"]}
    assert records[answer["uuid"]]["metrics"] == {"x": 21, "who": "the project's serving", "truth": 40}
    assert records[answer["uuid"]]["modelBuildCrn"] == dep["buildCrn"]
