"""The assembled ``mlcatalog up`` app, in-process: one error body per surface, and the truth about outages.

Surfaces: mlcatalog's own API (``/api/v1``, the metrics API, any unknown path, 500s) answers
``{code, message, problems}``; the mounted Atlas API answers Atlas's ``{errorCode, errorMessage}``; the gateway
(``POST /model``) keeps CML's ``{success: false, code, message}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.inprocess import ADMIN_KEY, ATLAS_PASSWORD, json_of, platform_app
from tests.servers import free_port

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PLATFORM_ERROR_KEYS = {"code", "message", "problems"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with platform_app(tmp_path_factory.mktemp("app") / "store", raise_server_exceptions=False) as c:
        yield c


def platform_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = json_of(r)
    assert set(body) == PLATFORM_ERROR_KEYS, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["problems"], list)
    return dict(body)


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/serving/nope", "/nope", "/ui/static/nope.js", "/api"])
def test_unknown_paths_outside_atlas_answer_in_the_platform_shape(client: TestClient, path: str) -> None:
    body = platform_error(client.get(path), 404, "not_found")
    assert path in body["message"]


def test_the_platform_shape_for_every_kind_of_error(client: TestClient) -> None:
    platform_error(client.post("/api/v1/projects"), 405, "method_not_allowed")
    platform_error(client.get("/api/v1/projects/crn:nope"), 404, "not_found")
    body = platform_error(client.put(f"/api/v1/deployments/{uuid.uuid4()}", json={"crn": "x"}, headers=ADMIN),
                          400, "invalid_input")
    assert body["problems"] and all(": " in p for p in body["problems"])
    platform_error(client.get("/api/v1/serving/deployments"), 401, "unauthorized")
    platform_error(client.get("/api/v1/serving/deployments", headers={"Authorization": "Bearer nope"}), 403,
                   "forbidden")
    platform_error(client.get("/api/v1/metrics", headers=ADMIN), 400, "invalid_input")
    platform_error(client.post("/api/v1/metrics/delayed", json={"metrics": {"y": 1},
                                                               "prediction_uuid": str(uuid.uuid4())},
                               headers=ADMIN), 404, "unknown_prediction")
    platform_error(client.get("/api/v1/serving/api-keys"), 401, "unauthorized")


def test_a_500_is_in_the_platform_shape_with_an_id(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]

    def broken() -> list[Any]:
        raise RuntimeError("index corrupted")

    monkeypatch.setattr(runtime.catalog.queries, "projects", broken)
    body = platform_error(client.get("/api/v1/projects"), 500, "internal")
    assert "index corrupted" not in body["message"]
    error_id = re.search(r"id ([0-9a-f]+)", body["message"])
    assert error_id and error_id.group(1) in caplog.text and "index corrupted" in caplog.text


def test_the_mounted_atlas_api_keeps_its_own_shape(client: TestClient) -> None:
    auth = ("admin", ATLAS_PASSWORD)
    for r, status in ((client.get("/api/atlas/v2/nope", auth=auth), 404),
                      (client.get(f"/api/atlas/v2/entity/guid/{uuid.uuid4()}", auth=auth), 404),
                      (client.get("/api/atlas/v2/types/typedefs"), 401),
                      (client.post("/api/atlas/v2/entity", content=b"{", auth=auth), 400)):
        assert r.status_code == status, r.text
        body = json_of(r)
        assert set(body) == {"errorCode", "errorMessage"}, body
        assert body["errorCode"].startswith(f"ATLAS-{status}-")


def test_the_gateway_keeps_cmls_shape(client: TestClient) -> None:
    for payload in (b"not json", b"{}", b'{"accessKey": "none", "request": {}}'):
        r = client.post("/model", content=payload)
        assert 400 <= r.status_code < 500
        body = json_of(r)
        assert body["success"] is False and body["code"] and body["message"], body


def test_openapi_documents_mlcatalogs_api_only(client: TestClient) -> None:
    paths = set(json_of(client.get("/api/v1/openapi.json"))["paths"])
    assert "/api/v1/deployments" in paths and "/api/v1/serving/api-keys" in paths
    assert not any(p.startswith("/api/atlas") for p in paths)


# -- an Atlas that does not answer ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def no_atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The platform pointed at an Atlas URL where nothing listens."""
    url = f"http://127.0.0.1:{free_port()}"
    with platform_app(tmp_path_factory.mktemp("no-atlas") / "store", {"MLCATALOG_ATLAS_URL": url}) as c:
        yield c


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/deployments",
                                  "/api/v1/deployments?classification=PII", "/api/v1/builds",
                                  "/api/v1/impact?qualifiedName=default.t@cm"])
def test_an_atlas_outage_during_a_read_is_a_503_never_an_empty_answer(no_atlas: TestClient, path: str) -> None:
    body = platform_error(no_atlas.get(path), 503, "upstream_unavailable")
    assert "not reachable" in body["message"] and "127.0.0.1" in body["message"]


def test_the_start_up_line_names_the_atlas_without_its_password(tmp_path: Path) -> None:
    url = f"http://someone:s3cret@127.0.0.1:{free_port()}/atlas"
    with platform_app(tmp_path / "store", {"MLCATALOG_ATLAS_URL": url}) as c:
        label = c.app.state.runtime.atlas_label  # type: ignore[attr-defined]
    assert "s3cret" not in label and "someone:***@127.0.0.1" in label and "(user admin)" in label


# -- the catalog the platform records into, chosen by URL ----------------------------------------------------
def test_the_platform_records_into_a_remote_catalog_when_one_is_configured(tmp_path: Path) -> None:
    """``MLCATALOG_CATALOG_URL``: the outbox delivers builds and deployments to that catalog's API instead of the
    catalog of this process."""
    from catalog.remote import RemoteCatalog
    from mlcatalog.app import build_app, open_store
    from mlcatalog.settings import load_settings
    from serving.platform import outbox
    from tests.api.support import TWO_MODELS, WINE_MODEL, make_project
    from tests.inprocess import settings_env
    from tests.servers import serving_in_thread, wait_until

    remote_settings = load_settings({"server.store": tmp_path / "b"},
                                    environ=settings_env(MLCATALOG_PROJECTS_ROOT=str(tmp_path)), cwd=tmp_path)
    remote_store = open_store(remote_settings.server.store)
    project = make_project(tmp_path / "work", TWO_MODELS)
    try:
        with serving_in_thread(build_app(remote_settings, remote_store)) as b, \
                platform_app(tmp_path / "a", {"MLCATALOG_CATALOG_URL": b.url}) as a:
            runtime = a.app.state.runtime  # type: ignore[attr-defined]
            assert isinstance(runtime.backend, RemoteCatalog) and runtime.backend.base_url == b.url
            crn = runtime.catalog.scope.crn(uuid.uuid4())
            with runtime.state.tx() as c:
                outbox.enqueue(c, "build", {"project_dir": str(project), "model": WINE_MODEL, "commit": "HEAD"})
            runtime.replayer.wake()
            wait_until(lambda: not outbox.entries(runtime.state), 30, what="the build to be delivered")
            builds = json_of(a.get("/api/v1/builds"))
            assert builds == []  # nothing in this process's catalog
            remote_builds = httpx_get(f"{b.url}/api/v1/builds")
            assert [x["model_name"] for x in remote_builds] == [WINE_MODEL]
            with runtime.state.tx() as c:
                outbox.enqueue(c, "deployment", {
                    "crn": crn, "build_crn": remote_builds[0]["crn"], "model_crn": remote_builds[0]["model_crn"],
                    "model_name": WINE_MODEL, "name": "wine", "status": "deployed", "create_time_ms": 1,
                    "deployed_time_ms": 2, "cpu_millicores": 100, "replicas": 1})
            runtime.replayer.wake()
            wait_until(lambda: not outbox.entries(runtime.state), 30, what="the deployment to be delivered")
            assert httpx_get(f"{b.url}/api/v1/deployments/{crn}")["status"] == "deployed"
            assert a.get(f"/api/v1/deployments/{crn}").status_code == 404
    finally:
        remote_store.close()


def httpx_get(url: str) -> Any:
    import httpx

    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_atlas_url_with_credentials_is_never_shown(tmp_path: Path) -> None:
    url = f"http://admin:s3cret-pw@127.0.0.1:{free_port()}/atlas"
    with platform_app(tmp_path / "store", {"MLCATALOG_ATLAS_URL": url}) as c:
        r = c.get("/api/v1/projects")  # no key: reads are open, and Atlas is down
        assert r.status_code == 503 and "s3cret-pw" not in r.text and "admin:***@127.0.0.1" in r.text, r.text


def test_the_store_directory_is_its_owners_alone(tmp_path: Path) -> None:
    from mlcatalog.app import open_store

    old = tmp_path / "old-store"
    old.mkdir(mode=0o755)
    for directory in (tmp_path / "new-store", old):
        open_store(directory).close()
        assert directory.stat().st_mode & 0o777 == 0o700, directory
