"""`typedefs apply` (catalog.registration.apply_typedefs and the CLI) against fresh embedded stores over HTTP.

Every store here is fresh and private to its test, served in-process by uvicorn like tests/conftest.start_atlas,
with a small ASGI wrapper that records each request (method, path) so "no write was sent" is checked on the wire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from catalog.errors import Conflict
from catalog.registration import apply_typedefs
from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.servers import ThreadServer, start_in_thread
from typedefs import load_attribute_extensions, load_bundled_typedefs, load_extension_typedefs

REPO_ROOT = Path(__file__).resolve().parents[1]
TYPEDEFS_URL = "/api/atlas/v2/types/typedefs"
ML_TYPES_FILE = next(f for f in load_bundled_typedefs()
                     if any(d["name"].startswith("ml_") for d in f.get("entityDefs", [])))
EXTENDED = sorted(load_attribute_extensions())  # ml_project, ml_model_build, ml_model_deployment
OWN_TYPES = sorted(d["name"] for defs in load_extension_typedefs().values() for d in defs)  # DRIFTING


@dataclass
class Store:
    url: str
    store: EmbeddedStore
    server: ThreadServer
    requests: list[tuple[str, str]] = field(default_factory=list)
    clients: list[AtlasCatalogClient] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m in ("POST", "PUT", "DELETE")]

    def typedef_writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.writes() if "/types/" in p]

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()
        self.store.close()


class _Recorder:
    def __init__(self, app: Any, log: list[tuple[str, str]]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.log.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


def _start(store_dir: Path, initial_typedefs: list[dict[str, Any]]) -> Store:
    store = EmbeddedStore(store_dir, initial_typedefs)
    log: list[tuple[str, str]] = []
    try:
        server = start_in_thread(_Recorder(standalone_app(store, password=ATLAS_PASSWORD), log))
    except BaseException:
        store.close()
        raise
    return Store(server.url, store, server, log)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Store]:
    """An embedded Atlas as `mlcatalog up` boots it: Atlas's own model (ML types included), no extensions."""
    s = _start(tmp_path / "store", load_bundled_typedefs())
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def without_ml(tmp_path: Path) -> Iterator[Store]:
    """An Atlas that has never loaded the ML model (4010-ml.json left out)."""
    initial = [f for f in load_bundled_typedefs()
               if not any(d["name"].startswith("ml_") for d in f.get("entityDefs", []))]
    assert len(initial) == len(load_bundled_typedefs()) - 1
    s = _start(tmp_path / "store-no-ml", initial)
    try:
        yield s
    finally:
        s.stop()


def client_for(s: Store) -> AtlasCatalogClient:
    client = AtlasCatalogClient(s.url, ATLAS_USER, ATLAS_PASSWORD)
    s.clients.append(client)  # closed when the store stops
    return client


def get_typedef(s: Store, name: str) -> dict[str, Any] | None:
    r = httpx.get(f"{s.url}/api/atlas/v2/types/typedef/name/{name}", auth=(ATLAS_USER, ATLAS_PASSWORD))
    if r.status_code == 404:
        return None
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


def attributes_of(s: Store, name: str) -> dict[str, dict[str, Any]]:
    d = get_typedef(s, name)
    assert d is not None, f"type {name} missing"
    return {a["name"]: a for a in d.get("attributeDefs", [])}


def all_typedefs(s: Store) -> dict[str, Any]:
    r = httpx.get(f"{s.url}{TYPEDEFS_URL}", auth=(ATLAS_USER, ATLAS_PASSWORD))
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


class WriteCounter:
    """Wraps client.create_typedefs/update_typedefs and counts the calls that would send a request."""

    def __init__(self, client: AtlasCatalogClient) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        create, update = client.create_typedefs, client.update_typedefs

        def counted_create(defs: list[Any]) -> None:
            if defs:
                self.sent.append(("POST", [d.name for d in defs]))
            create(defs)

        def counted_update(defs: list[Any]) -> None:
            if defs:
                self.sent.append(("PUT", [d.name for d in defs]))
            update(defs)

        client.create_typedefs = counted_create  # type: ignore[method-assign]
        client.update_typedefs = counted_update  # type: ignore[method-assign]


def expected_extensions() -> dict[str, dict[str, dict[str, Any]]]:
    return {t: {a["name"]: a for a in attrs} for t, attrs in load_attribute_extensions().items()}


def assert_extended(s: Store) -> None:
    for type_name, wanted in expected_extensions().items():
        have = attributes_of(s, type_name)
        for name, a in wanted.items():
            assert name in have, f"{type_name}.{name} was not added"
            assert have[name]["typeName"] == a["typeName"]
            assert have[name]["isOptional"] is True


# -- library: apply_typedefs ------------------------------------------------------------------------


def test_first_apply_adds_extension_attributes_and_own_types_only(fresh: Store) -> None:
    assert "crn" not in attributes_of(fresh, "ml_model_deployment")  # precondition: Atlas's own model only
    assert get_typedef(fresh, "DRIFTING") is None
    before = {k: sorted(d["name"] for d in v) for k, v in all_typedefs(fresh).items() if isinstance(v, list)}
    client = client_for(fresh)
    counter = WriteCounter(client)

    plan = apply_typedefs(client)

    # the embedded store boots with Atlas's model: only mlcatalog's own types are created
    assert [d.name for d in plan.create] == OWN_TYPES == ["DRIFTING"]
    assert sorted(d.name for d in plan.update) == EXTENDED
    assert {t: sorted(a) for t, a in plan.added.items()} == {
        t: sorted(a) for t, a in expected_extensions().items()}
    assert plan.conflicts == []
    assert plan.changes
    assert any("crn" in line and "ml_model_deployment" in line for line in plan.summary())
    assert "create classification type DRIFTING" in plan.summary()
    assert_extended(fresh)
    # one POST (mlcatalog's own types), then PUTs (the attributes)
    assert [(m, sorted(names)) for m, names in counter.sent] == [("POST", OWN_TYPES), ("PUT", EXTENDED)]
    assert [m for m, _ in fresh.typedef_writes()] == ["POST", "PUT"]
    after = {k: sorted(d["name"] for d in v) for k, v in all_typedefs(fresh).items() if isinstance(v, list)}
    assert after == {**before, "classificationDefs": sorted([*before["classificationDefs"], *OWN_TYPES])}
    drifting = get_typedef(fresh, "DRIFTING")
    assert drifting is not None and drifting["category"] == "CLASSIFICATION"
    assert drifting["entityTypes"] == ["ml_model_deployment"]
    assert drifting["description"] == "Model deployment whose latest monitoring window drifted from its reference"
    # existing attributes of Atlas's model are kept as they were
    assert {"createTime", "deployedTime", "metadata", "status", "cpuMillicores"} <= set(
        attributes_of(fresh, "ml_model_deployment"))


def test_second_apply_sends_no_write(fresh: Store) -> None:
    apply_typedefs(client_for(fresh))
    snapshot = all_typedefs(fresh)
    client = client_for(fresh)
    counter = WriteCounter(client)
    fresh.requests.clear()

    plan = apply_typedefs(client)

    assert not plan.changes
    assert plan.create == [] and plan.update == [] and plan.added == {}
    assert plan.summary() == []
    assert counter.sent == []
    assert fresh.writes() == []  # on the wire too: only GETs
    assert fresh.requests, "apply should at least read the typedefs"
    assert all_typedefs(fresh) == snapshot


def test_dry_run_changes_nothing(fresh: Store) -> None:
    fresh.requests.clear()
    plan = apply_typedefs(client_for(fresh), dry_run=True)
    assert plan.changes and plan.added
    assert fresh.writes() == []
    assert "crn" not in attributes_of(fresh, "ml_model_deployment")
    assert get_typedef(fresh, "DRIFTING") is None


def test_apply_on_atlas_without_ml_model_creates_ml_types_with_extensions(without_ml: Store) -> None:
    ml_names = {d["name"] for key in ("enumDefs", "entityDefs", "relationshipDefs", "structDefs",
                                      "classificationDefs") for d in ML_TYPES_FILE.get(key, [])}
    for name in ml_names:
        assert get_typedef(without_ml, name) is None, f"precondition: {name} should not exist"
    client = client_for(without_ml)
    counter = WriteCounter(client)

    plan = apply_typedefs(client)

    assert {d.name for d in plan.create} == ml_names | set(OWN_TYPES)
    assert plan.create[-1].name == "DRIFTING"  # after the type it is for
    assert plan.conflicts == []
    assert plan.update == []  # the extension attributes ride along on the created types
    for name in ml_names:
        assert get_typedef(without_ml, name) is not None, f"{name} was not created"
    assert_extended(without_ml)
    # Atlas's own attributes of the ML types are there too
    assert {"createTime", "deployedTime", "status"} <= set(attributes_of(without_ml, "ml_model_deployment"))
    assert any(m == "POST" for m, _ in counter.sent)
    assert any(line.startswith("create ") and "ml_model_deployment" in line for line in plan.summary())

    # idempotent here too
    counter2 = WriteCounter(client_for(without_ml))
    without_ml.requests.clear()
    again = apply_typedefs(client_for(without_ml))
    assert not again.changes and again.summary() == []
    assert counter2.sent == [] and without_ml.writes() == []


def _make_crn_an_int(s: Store) -> None:
    """What another tool might have done: ml_model_deployment.crn as an int (a typedef PUT on the live type)."""
    d = get_typedef(s, "ml_model_deployment")
    assert d is not None
    for key in ("guid", "createTime", "updateTime", "createdBy", "updatedBy", "version", "subTypes",
                "relationshipAttributeDefs", "businessAttributeDefs"):
        d.pop(key, None)
    d["attributeDefs"] = [*d["attributeDefs"], {"name": "crn", "typeName": "int", "isOptional": True,
                                                 "cardinality": "SINGLE", "isUnique": False,
                                                 "isIndexable": False}]
    r = httpx.put(f"{s.url}{TYPEDEFS_URL}", json={"entityDefs": [d]}, auth=(ATLAS_USER, ATLAS_PASSWORD))
    assert r.status_code == 200, r.text
    assert attributes_of(s, "ml_model_deployment")["crn"]["typeName"] == "int"


def test_destructive_change_is_refused_naming_type_and_attribute(fresh: Store) -> None:
    _make_crn_an_int(fresh)
    snapshot = all_typedefs(fresh)
    client = client_for(fresh)
    counter = WriteCounter(client)
    fresh.requests.clear()

    with pytest.raises(Conflict) as info:
        apply_typedefs(client)

    assert "ml_model_deployment.crn" in info.value.message
    assert info.value.code == "conflict"
    assert counter.sent == []
    assert fresh.writes() == []
    assert all_typedefs(fresh) == snapshot  # nothing changed, not even the other (harmless) additions
    assert "crn" not in attributes_of(fresh, "ml_project")
    assert attributes_of(fresh, "ml_model_deployment")["crn"]["typeName"] == "int"


def _create_drifting(s: Store, entity_types: list[str]) -> None:
    """What another tool might have done: its own DRIFTING classification."""
    r = httpx.post(f"{s.url}{TYPEDEFS_URL}", auth=(ATLAS_USER, ATLAS_PASSWORD), json={"classificationDefs": [
        {"name": "DRIFTING", "description": "theirs", "superTypes": [], "entityTypes": entity_types,
         "attributeDefs": []}]})
    assert r.status_code == 200, r.text


def test_an_existing_classification_of_that_name_that_fits_is_kept(fresh: Store) -> None:
    _create_drifting(fresh, [])  # allowed on any entity type
    plan = apply_typedefs(client_for(fresh))
    assert "DRIFTING" not in {d.name for d in plan.create}
    drifting = get_typedef(fresh, "DRIFTING")
    assert drifting is not None and drifting["description"] == "theirs"


def test_an_existing_classification_of_that_name_for_other_types_is_refused(fresh: Store) -> None:
    _create_drifting(fresh, ["hive_table"])
    snapshot = all_typedefs(fresh)
    fresh.requests.clear()
    with pytest.raises(Conflict) as info:
        apply_typedefs(client_for(fresh))
    assert "DRIFTING" in info.value.message and "hive_table" in info.value.message
    assert fresh.writes() == []
    assert all_typedefs(fresh) == snapshot


# -- CLI: mlcatalog typedefs apply -----------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def mlcatalog(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlcatalog", *args], cwd=cwd, env=env or clean_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def test_cli_typedefs_apply_twice(fresh: Store, tmp_path: Path) -> None:
    first = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", fresh.url, "--atlas-password", ATLAS_PASSWORD)
    assert first.returncode == 0, first.stderr
    out = first.stdout.splitlines()
    assert out, "the changes should be printed"
    for type_name, attrs in expected_extensions().items():
        line = next((x for x in out if type_name in x), None)
        assert line is not None, f"{type_name} not mentioned in {out}"
        for attr in attrs:
            assert attr in line
    assert "create classification type DRIFTING" in out
    assert "up to date" not in first.stdout
    assert "Traceback" not in first.stderr
    assert_extended(fresh)

    fresh.requests.clear()
    second = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", fresh.url, "--atlas-password", ATLAS_PASSWORD)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert len(second.stdout.splitlines()) == 1
    assert fresh.writes() == []


def test_cli_typedefs_apply_takes_url_and_password_from_env(fresh: Store, tmp_path: Path) -> None:
    env = clean_env(MLCATALOG_ATLAS_URL=fresh.url, MLCATALOG_ATLAS_PASSWORD=ATLAS_PASSWORD)
    res = mlcatalog(tmp_path, "typedefs", "apply", env=env)
    assert res.returncode == 0, res.stderr
    assert_extended(fresh)


def test_cli_typedefs_apply_wrong_password_is_a_one_line_error(fresh: Store, tmp_path: Path) -> None:
    res = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", fresh.url, "--atlas-password", "wrong")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "crn" not in attributes_of(fresh, "ml_model_deployment")


def test_cli_typedefs_apply_refuses_destructive_change(fresh: Store, tmp_path: Path) -> None:
    _make_crn_an_int(fresh)
    snapshot = all_typedefs(fresh)
    res = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", fresh.url, "--atlas-password", ATLAS_PASSWORD)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "ml_model_deployment.crn" in lines[0]
    assert "Traceback" not in res.stderr
    assert all_typedefs(fresh) == snapshot


def test_cli_typedefs_apply_on_atlas_without_ml_model(without_ml: Store, tmp_path: Path) -> None:
    res = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", without_ml.url,
                    "--atlas-password", ATLAS_PASSWORD)
    assert res.returncode == 0, res.stderr
    assert any("ml_model_deployment" in line and "create" in line for line in res.stdout.splitlines())
    assert_extended(without_ml)
    again = mlcatalog(tmp_path, "typedefs", "apply", "--atlas-url", without_ml.url,
                      "--atlas-password", ATLAS_PASSWORD)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_ml_types_file_is_what_we_filter() -> None:
    # guard for the without_ml fixture: the ML file holds exactly the ML types
    names = [d["name"] for d in ML_TYPES_FILE.get("entityDefs", [])]
    assert "ml_model_deployment" in names and all(n.startswith("ml_") for n in names)
    assert json.dumps(ML_TYPES_FILE)  # plain JSON


def test_own_types_are_classifications_for_bundled_entity_types() -> None:
    own = load_extension_typedefs()
    assert set(own) == {"classificationDefs"}
    entity_types = {d["name"] for f in load_bundled_typedefs() for d in f.get("entityDefs", [])}
    for d in own["classificationDefs"]:
        assert d["entityTypes"] and set(d["entityTypes"]) <= entity_types, d
        assert d["name"].isupper() and d["attributeDefs"] == []
    drift = {a["name"]: a for a in load_attribute_extensions()["ml_model_deployment"] if a["name"].startswith("drift")}
    assert {n: (a["typeName"], a["cardinality"], a["isOptional"]) for n, a in drift.items()} == {
        "driftStatus": ("string", "SINGLE", True), "driftColumns": ("array<string>", "LIST", True),
        "driftCheckedTime": ("date", "SINGLE", True), "driftWindowStart": ("date", "SINGLE", True),
        "driftWindowEnd": ("date", "SINGLE", True)}
