"""Roles and scoped keys across every surface of ``mlcatalog up``: a matrix of role x operation x own/foreign project,
each case expecting its status (and, for lists, exactly what the key may see).

Two projects, ``alpha`` (own: the scoped keys' project) and ``beta`` (foreign), live under the platform's projects
root, each with a deployment of an echo model. The keys: the administrator, a deployer and a viewer of ``alpha``,
a caller of alpha's deployment, a caller of the project ``alpha``; and no key, an unknown key, and the access key
alone (which authorizes nothing). The catalog API runs with read auth on, so its reads are scoped too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.inprocess import ADMIN_KEY, json_of, platform_app
from tests.servers import wait_until
from tests.serving.conftest import ECHO_MODEL_PY as MODEL_PY
from tests.serving.conftest import make_project

TOKEN = "roles-catalog-token"
MODEL = "Echo"
ROLES = ("admin", "deployer", "viewer", "caller", "caller_project", "no_key", "unknown_key", "access_key")
OWN, FOREIGN = "alpha", "beta"


@dataclass
class World:
    client: TestClient
    root: Path
    store: Path
    keys: dict[str, str | None]
    deployments: dict[str, dict[str, Any]]  # project -> {crn, accessKey, buildCrn, modelCrn, uuid}
    projects: dict[str, str] = field(default_factory=dict)  # project name -> project CRN

    def headers(self, role: str) -> dict[str, str]:
        key = self.keys[role]
        return {"Authorization": f"Bearer {key}"} if key else {}

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    def deploy(self, project: str, headers: dict[str, str], *, shadow: bool = False) -> Any:
        return self.client.post("/api/v1/serving/deployments", headers=headers, json={
            "project_dir": project, "model": MODEL, "file": "model.py", "function": "predict", "name": project,
            "shadow": shadow})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("roles-projects")
    for name in (OWN, FOREIGN):
        make_project(root / name, {"model.py": MODEL_PY}, [MODEL])
    store = tmp_path_factory.mktemp("roles") / "store"
    env = {"MLCATALOG_API_TOKEN": TOKEN, "MLCATALOG_API_READ_AUTH": "true", "MLCATALOG_MONITORING": "false",
           "MLCATALOG_PROJECTS_ROOT": str(root)}
    with platform_app(store, env) as client:
        w = World(client, root, store, {}, {})
        for name in (OWN, FOREIGN):
            r = w.deploy(name, w.admin())
            assert r.status_code == 200, r.text
            d = json_of(r)
            call = client.post("/model", json={"accessKey": d["accessKey"], "request": {"x": 1}}, headers=w.admin())
            assert call.status_code == 200, call.text
            w.deployments[name] = {**d, "uuid": call.json()["response"]["uuid"]}
        own_crn = w.deployments[OWN]["crn"]

        def key(role: str, projects: tuple[str, ...] = (), deployments: tuple[str, ...] = ()) -> str:
            r = client.post("/api/v1/serving/api-keys", headers=w.admin(), json={
                "name": f"{role} key", "role": role, "projects": list(projects), "deployments": list(deployments)})
            assert r.status_code == 201, r.text
            return str(json_of(r)["key"])

        w.keys = {"admin": ADMIN_KEY, "deployer": key("deployer", (OWN,)), "viewer": key("viewer", (OWN,)),
                  "caller": key("caller", deployments=(own_crn,)), "caller_project": key("caller", (OWN,)),
                  "no_key": None, "unknown_key": "mlk_000000000000_not-a-key",
                  "access_key": w.deployments[OWN]["accessKey"]}

        def settled() -> bool:
            pending = json_of(client.get("/api/v1/serving/outbox", headers=w.admin()))
            w.projects = {p["name"]: p["crn"] for p in json_of(client.get("/api/v1/projects", headers=w.admin()))}
            return not pending and len(w.projects) == 2

        wait_until(settled, 30, what="the outbox to deliver both projects")
        yield w
        for d in w.deployments.values():
            client.post(f"/api/v1/serving/stop/{d['crn']}", headers=w.admin())


# -- the operations: each sends one request as ``role`` against the ``own`` or ``foreign`` project ----------------
Op = Callable[[World, str, str], Any]


def _d(w: World, target: str) -> dict[str, Any]:
    return w.deployments[target]


def deploy(w: World, role: str, target: str) -> Any:
    # a shadow: a new build of a live model would otherwise replace the matrix's deployment
    r = w.deploy(target, w.headers(role), shadow=True)
    if r.status_code == 200:  # allowed: take it down again, the matrix goes on with two deployments
        w.client.post(f"/api/v1/serving/stop/{r.json()['crn']}", headers=w.admin())
    return r


def stop(w: World, role: str, target: str) -> Any:
    if expected(role, "stop", target) >= 400:  # refused: it must leave the matrix's deployment running
        return w.client.post(f"/api/v1/serving/stop/{_d(w, target)['crn']}", headers=w.headers(role))
    # allowed: a deployment of its own (a shadow), so as not to take the matrix's away
    r = w.deploy(target, w.admin(), shadow=True)
    assert r.status_code == 200, r.text
    return w.client.post(f"/api/v1/serving/stop/{r.json()['crn']}", headers=w.headers(role))


def get(path: str) -> Op:
    return lambda w, role, target: w.client.get(path.format(**_d(w, target), project=w.projects[target]),
                                                headers=w.headers(role))


def call_model(w: World, role: str, target: str) -> Any:
    return w.client.post("/model", json={"accessKey": _d(w, target)["accessKey"], "request": {"x": 2}},
                         headers=w.headers(role))


def aggregate(w: World, role: str, target: str) -> Any:
    now = int(time.time() * 1000)
    return w.client.post("/api/v1/metrics/aggregate", headers=w.headers(role), json={
        "metrics": {"accuracy": 0.9}, "start_timestamp_ms": now - 60_000, "end_timestamp_ms": now,
        "model_deployment_crn": _d(w, target)["crn"]})


def delayed(w: World, role: str, target: str) -> Any:
    return w.client.post("/api/v1/metrics/delayed", headers=w.headers(role), json={
        "metrics": {"actual": 1}, "prediction_uuid": _d(w, target)["uuid"]})


def record_build(w: World, role: str, target: str) -> Any:
    return w.client.post("/api/v1/builds", headers=w.headers(role), json={"project_dir": target})


def put_deployment(w: World, role: str, target: str) -> Any:
    d = _d(w, target)
    body = {"crn": d["crn"], "build_crn": d["buildCrn"], "model_crn": d["modelCrn"], "model_name": MODEL,
            "name": target, "status": "deployed", "create_time_ms": 1_700_000_000_000,
            "deployed_time_ms": 1_700_000_000_000, "cpu_millicores": 1000}
    return w.client.put(f"/api/v1/deployments/{d['crn']}", headers=w.headers(role), json=body)


def create_key(w: World, role: str, target: str) -> Any:
    return w.client.post("/api/v1/serving/api-keys", headers=w.headers(role),
                         json={"name": "made by " + role, "role": "viewer", "projects": [target]})


def retry_outbox(w: World, role: str, target: str) -> Any:
    return w.client.post("/api/v1/serving/outbox/retry", headers=w.headers(role), json={"seq": None})


TARGETED: dict[str, Op] = {
    "deploy": deploy,
    "get deployment": get("/api/v1/serving/deployments/{crn}"),
    "replica logs": get("/api/v1/serving/deployments/{crn}/logs"),
    "traffic": get("/api/v1/serving/deployments/{crn}/traffic"),
    "stop": stop,
    "call model": call_model,
    "read metrics": get("/api/v1/metrics?model_deployment_crn={crn}"),
    "read model metrics": get("/api/v1/metrics?model_crn={modelCrn}"),
    "write aggregate metrics": aggregate,
    "write delayed metrics": delayed,
    "monitor": get("/api/v1/serving/monitors/{crn}"),
    "monitor windows": get("/api/v1/serving/monitors/{crn}/windows"),
    "run monitor": lambda w, role, target: w.client.post(f"/api/v1/serving/monitors/{_d(w, target)['crn']}/run",
                                                         headers=w.headers(role)),
    "remove monitor": lambda w, role, target: w.client.delete(f"/api/v1/serving/monitors/{_d(w, target)['crn']}",
                                                              headers=w.headers(role)),
    "catalog project": get("/api/v1/projects/{project}"),
    "catalog build": get("/api/v1/builds/{buildCrn}"),
    "catalog build inputs": get("/api/v1/builds/{buildCrn}/inputs"),
    "catalog model": get("/api/v1/models/{modelCrn}"),
    "catalog deployment": get("/api/v1/deployments/{crn}"),
    "catalog deployment lineage": get("/api/v1/deployments/{crn}/lineage"),
    "record build": record_build,
    "record deployment": put_deployment,
}

# Per role: the operations it may do in its own project and in a foreign one. A monitor read that is allowed
# answers 404 (these deployments have none): the authorization passed, the monitor is not there.
READ = {"get deployment", "replica logs", "traffic", "read metrics", "read model metrics", "monitor",
        "monitor windows", "catalog project", "catalog build", "catalog build inputs", "catalog model",
        "catalog deployment", "catalog deployment lineage"}
DEPLOY = {"deploy", "stop", "call model", "write aggregate metrics", "write delayed metrics", "record build",
          "run monitor", "remove monitor"}
ADMIN_ONLY = {"record deployment"}
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "admin": (READ | DEPLOY | ADMIN_ONLY, READ | DEPLOY | ADMIN_ONLY),
    "deployer": (READ | DEPLOY, {"write delayed metrics"}),  # a prediction's UUID is its caller's capability
    "viewer": (READ, set()),
    "caller": ({"call model", "write delayed metrics"}, {"write delayed metrics"}),
    "caller_project": ({"call model", "write delayed metrics"}, {"write delayed metrics"}),
}
NOT_THERE = {"monitor", "monitor windows", "run monitor", "remove monitor"}  # allowed, then 404: no monitor here


def expected(role: str, op: str, target: str) -> int:
    if role == "no_key":
        return 401
    if role in ("unknown_key", "access_key"):
        return 403
    own, foreign = ALLOWED[role]
    if op not in (own if target == OWN else foreign):
        return 403
    if op in NOT_THERE:
        return 404
    return 201 if op == "create key" else 200


CASES = [pytest.param(role, op, target, id=f"{role}-{op.replace(' ', '_')}-{'own' if target == OWN else 'foreign'}")
         for role in ROLES for op in TARGETED for target in (OWN, FOREIGN)]


@pytest.mark.parametrize(("role", "op", "target"), CASES)
def test_role_matrix(world: World, role: str, op: str, target: str) -> None:
    r = TARGETED[op](world, role, target)
    want = expected(role, op, target)
    assert r.status_code == want, (role, op, target, r.status_code, r.text[:300])
    if want >= 400:
        body = r.json()
        shape = {"success", "code", "message"} if op == "call model" else {"code", "message", "problems"}
        assert shape <= set(body), body
        assert body["code"] == {401: "unauthorized", 403: "forbidden", 404: "not_found"}[want], body


# -- operations on no project: lists (what each key sees), keys, the outbox ---------------------------------
def _names(rows: list[dict[str, Any]], key: str = "name") -> set[str]:
    return {str(r[key]) for r in rows}


SEES = {"admin": {OWN, FOREIGN}, "deployer": {OWN}, "viewer": {OWN}}


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_the_keys_projects(world: World, role: str) -> None:
    h = world.headers(role)
    lists = {
        "serving deployments": ("/api/v1/serving/deployments", "project"),
        "catalog projects": ("/api/v1/projects", "name"),
        "catalog deployments": ("/api/v1/deployments", "name"),
        "monitors": ("/api/v1/serving/monitors", "deployment_crn"),
    }
    for what, (path, name_key) in lists.items():
        r = world.client.get(path, headers=h)
        if role == "no_key":
            assert r.status_code == 401, (what, r.text)
        elif role in ("unknown_key", "access_key"):
            assert r.status_code == 403, (what, r.text)
        elif role.startswith("caller") and path.startswith("/api/v1/") and not path.startswith("/api/v1/serving"):
            assert r.status_code == 403, (what, r.text)  # a caller key reads nothing of the catalog
        else:
            assert r.status_code == 200, (what, r.text)
            if what != "monitors":
                assert _names(r.json(), name_key) == SEES.get(role, set()), (what, r.json())
    # builds and models of the catalog: by project CRN
    r = world.client.get("/api/v1/builds", headers=h)
    if r.status_code == 200:
        assert {b["project_crn"] for b in r.json()} == {world.projects[p] for p in SEES.get(role, set())}


@pytest.mark.parametrize("role", ROLES)
def test_keys_and_the_outbox_are_the_administrators(world: World, role: str) -> None:
    for op in (create_key, retry_outbox):
        r = op(world, role, OWN)
        want = {"admin": 201 if op is create_key else 200, "no_key": 401}.get(role, 403)
        assert r.status_code == want, (role, op.__name__, r.text)
    for path in ("/api/v1/serving/api-keys", "/api/v1/serving/outbox"):
        r = world.client.get(path, headers=world.headers(role))
        assert r.status_code == {"admin": 200, "no_key": 401}.get(role, 403), (role, path, r.text)


def test_whoami_names_role_and_scope(world: World) -> None:
    r = world.client.get("/api/v1/serving/whoami", headers=world.headers("deployer"))
    assert r.status_code == 200 and r.json()["role"] == "deployer" and r.json()["projects"] == [OWN]
    r = world.client.get("/api/v1/serving/whoami", headers=world.headers("caller"))
    assert r.json()["deployments"] == [world.deployments[OWN]["crn"]]


def test_access_keys_are_shown_once_and_stored_hashed(world: World) -> None:
    import sqlite3
    from contextlib import closing

    listed = json_of(world.client.get("/api/v1/serving/deployments", headers=world.admin()))
    text = str(listed)
    for d in world.deployments.values():
        assert d["accessKey"] not in text
    assert all("access_key" not in d and len(d["access_key_hint"]) == 6 for d in listed)
    with closing(sqlite3.connect(world.store / "platform.db")) as db:
        dumped = "\n".join(db.iterdump())
    for d in world.deployments.values():
        assert d["accessKey"] not in dumped


def test_a_project_outside_the_projects_root_is_refused(world: World, tmp_path: Path) -> None:
    outside = make_project(tmp_path / "outside", {"model.py": MODEL_PY}, [MODEL])
    before = json_of(world.client.get("/api/v1/serving/deployments", headers=world.admin()))
    for given in (str(outside), "../" * 12 + str(outside).lstrip("/"), f"{OWN}/../../{outside.name}"):
        r = world.deploy(given, world.admin())
        assert r.status_code == 400 and "projects root" in r.json()["message"], r.text
        r = world.client.post("/api/v1/builds", json={"project_dir": given}, headers=world.admin())
        assert r.status_code == 400 and "projects root" in r.json()["message"], r.text
    link = world.root / "escape"
    link.symlink_to(outside)
    try:
        r = world.deploy("escape", world.admin())
        assert r.status_code == 400 and "projects root" in r.json()["message"], r.text
    finally:
        link.unlink()
    assert json_of(world.client.get("/api/v1/serving/deployments", headers=world.admin())) == before


def test_matrix_size() -> None:
    assert len(CASES) >= 300
