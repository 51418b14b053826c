"""Environment variables declared for a deployment (``mlcatalog deploy --env KEY=VALUE``): the replicas get them
besides their minimal environment, after a restart too; the platform's own settings and secrets never; their
values are never shown back."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlcatalog.cli import app
from tests.inprocess import ADMIN_KEY, json_of, platform_app
from tests.servers import serving_in_thread
from tests.serving.conftest import make_project

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ENV_MODEL_PY = '''
import os


def predict(args):
    return {"environ": dict(os.environ)}
'''
SECRETS = {"MLCATALOG_ATLAS_PASSWORD": "s3cret-atlas", "MLCATALOG_API_TOKEN": "s3cret-token-0123456789"}


def _environ(client: Any, access_key: str) -> dict[str, str]:
    r = client.post("/model", json={"accessKey": access_key, "request": {}}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return dict(r.json()["response"]["prediction"]["environ"])


def _rows(store: Path) -> list[Any]:
    with closing(sqlite3.connect(store / "platform.db")) as db:
        return db.execute("SELECT crn, env FROM deployment").fetchall()


def test_declared_variables_reach_the_replicas_and_survive_a_restart(tmp_path: Path) -> None:
    project = make_project(tmp_path / "env-project", {"model.py": ENV_MODEL_PY}, ["Env"])
    store = tmp_path / "store"
    body = {"project_dir": str(project), "model": "Env", "file": "model.py", "function": "predict",
            "env": {"WINE_THRESHOLD": "0.7", "FEATURE_FLAGS": "a=b;c"}}
    with platform_app(store, SECRETS) as client:
        r = client.post("/api/v1/serving/deployments", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        d = json_of(r)
        seen = _environ(client, d["accessKey"])
        info = json_of(client.get(f"/api/v1/serving/deployments/{d['crn']}", headers=ADMIN))
    assert seen["WINE_THRESHOLD"] == "0.7" and seen["FEATURE_FLAGS"] == "a=b;c"
    assert not [k for k in seen if k.startswith("MLCATALOG")] and "s3cret" not in json.dumps(seen)
    assert info["env"] == ["FEATURE_FLAGS", "WINE_THRESHOLD"] and "0.7" not in json.dumps(info)  # names only
    with platform_app(store, SECRETS) as client:  # restored at start-up, with its variables
        again = _environ(client, d["accessKey"])
        client.post(f"/api/v1/serving/stop/{d['crn']}", headers=ADMIN)
    assert again["WINE_THRESHOLD"] == "0.7" and not [k for k in again if k.startswith("MLCATALOG")]


@pytest.mark.parametrize(("env", "why"), [
    ({"MLCATALOG_ATLAS_PASSWORD": "x"}, "set by the platform"),
    ({"mlcatalog_api_token": "x"}, "set by the platform"),
    ({"PATH": "/tmp/evil"}, "set by the platform"),
    ({"LD_PRELOAD": "/tmp/evil.so"}, "set by the platform"),
    ({"PYTHONPATH": "/tmp"}, "set by the platform"),
    ({"1BAD": "x"}, "not an environment variable name"),
    ({"A=B": "x"}, "not an environment variable name"),
    ({"": "x"}, "at least 1 character"),
    ({"OK": "nul\u0000inside"}, "NUL"),
    ({"OK": "x" * 40_000}, "at most 32768 characters"),
    ({f"V{i}": "x" for i in range(101)}, "at most 100 items"),
    ({"OK": 1}, "valid string"),
    (["A=B"], "valid dictionary"),
])
def test_refused_variables_write_nothing(tmp_path: Path, env: Any, why: str) -> None:
    project = make_project(tmp_path / "env-project", {"model.py": ENV_MODEL_PY}, ["Env"])
    store = tmp_path / "store"
    with platform_app(store) as client:
        r = client.post("/api/v1/serving/deployments", headers=ADMIN, json={
            "project_dir": str(project), "model": "Env", "file": "model.py", "function": "predict", "env": env})
        assert r.status_code == 400, r.text
        assert why in r.text, r.text
        assert "/tmp/evil" not in r.json()["message"]
    assert _rows(store) == []


def test_the_cli_sends_variables_and_never_echoes_a_value(tmp_path: Path) -> None:
    project = make_project(tmp_path / "env-project", {"model.py": ENV_MODEL_PY}, ["Env"])
    runner = CliRunner()
    bad = runner.invoke(app, ["deploy", "--project-dir", str(project), "--model", "Env", "--file", "model.py",
                              "--function", "predict", "--env", "TOKEN"], prog_name="mlcatalog",
                        env={"MLCATALOG_URL": "http://127.0.0.1:9"})
    assert bad.exit_code == 2 and "expected KEY=VALUE" in bad.output
    from mlcatalog.app import build_app, open_store
    from mlcatalog.settings import load_settings
    from tests.inprocess import settings_env

    settings = load_settings({"server.store": tmp_path / "store"},
                             environ=settings_env(MLCATALOG_PROJECTS_ROOT=str(tmp_path)), cwd=tmp_path)
    store = open_store(settings.server.store)
    try:
        with serving_in_thread(build_app(settings, store)) as server:
            ok = runner.invoke(app, ["deploy", "--project-dir", str(project), "--model", "Env", "--file", "model.py",
                                     "--function", "predict", "--env", "API_SECRET=hunter2-value", "--json"],
                               prog_name="mlcatalog", env={"MLCATALOG_URL": server.url, "MLCATALOG_API_KEY": ADMIN_KEY})
            assert ok.exit_code == 0, ok.output
            crn = json.loads(ok.stdout)["crn"]  # the progress goes to stderr
            listed = runner.invoke(app, ["deployments", "--json"], prog_name="mlcatalog",
                                   env={"MLCATALOG_URL": server.url, "MLCATALOG_API_KEY": ADMIN_KEY})
            assert "API_SECRET" in listed.output and "hunter2-value" not in listed.output
            runner.invoke(app, ["stop", crn], prog_name="mlcatalog",
                          env={"MLCATALOG_URL": server.url, "MLCATALOG_API_KEY": ADMIN_KEY})
    finally:
        store.close()
