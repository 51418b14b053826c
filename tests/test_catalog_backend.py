"""``CatalogBackend``: one contract for the catalog in-process (``LocalCatalog``) and behind its REST API
(``RemoteCatalog``), which is what the serving platform records its builds and deployments through."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.backend import BuildRequest, CatalogBackend, DeploymentRecord
from catalog.crn import CrnScope
from catalog.errors import Forbidden, InvalidInput, UpstreamUnavailable
from catalog.remote import RemoteCatalog
from catalog.service import LocalCatalog
from mlcatalog.assemble import atlas_client
from mlcatalog.settings import load_settings
from tests.api.support import CHURN_MODEL, TWO_MODELS, WINE_MODEL, commit_file, make_project
from tests.inprocess import ADMIN_KEY, platform_app
from tests.servers import free_port

SCOPE = CrnScope("local", "mlcatalog", "default")


@pytest.fixture(params=["local", "remote"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogBackend]:
    if request.param == "local":
        settings = load_settings(environ={}, cwd=tmp_path)
        local = LocalCatalog(atlas_client(settings, f"atlas+embedded://{tmp_path / 'store'}"), SCOPE, "cm")
        yield local
        local.close()
        return
    with platform_app(tmp_path / "store") as client:
        remote = RemoteCatalog("http://testserver", ADMIN_KEY, client=client)
        yield remote
        remote.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "work", TWO_MODELS)


def record(build_crn: str, model_crn: str, status: str = "deployed", crn: str | None = None) -> DeploymentRecord:
    return DeploymentRecord(crn=crn or SCOPE.crn(uuid.uuid4()), build_crn=build_crn, model_crn=model_crn,
                            model_name=WINE_MODEL, name="wine", status=status, create_time_ms=1,
                            deployed_time_ms=2, cpu_millicores=500, replicas=1)


def test_a_build_is_recorded_once_per_commit(backend: CatalogBackend, project: Path) -> None:
    first = backend.record_build(BuildRequest(project_dir=str(project)))
    assert {b.model_name for b in first.builds} == {WINE_MODEL, CHURN_MODEL}
    assert all(b.version == 1 and b.new and b.guid for b in first.builds)
    assert first.creates > 0 and any("declared" in n for n in first.notes)
    again = backend.record_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL]))
    (b,) = again.builds
    assert (b.new, b.version, again.creates, again.updates) == (False, 1, 0, 0)
    assert b.guid == next(x.guid for x in first.builds if x.model_name == WINE_MODEL)


def test_a_deployment_is_recorded_idempotently(backend: CatalogBackend, project: Path) -> None:
    (b,) = backend.record_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL])).builds
    d = record(b.build_crn, b.model_crn)
    first = backend.record_deployment(d)
    assert first.creates >= 1 and first.guid
    assert backend.record_deployment(d).model_dump() == {"creates": 0, "updates": 0, "written": 0,
                                                          "guid": first.guid}
    stopped = backend.record_deployment(d.model_copy(update={"status": "stopped"}))
    assert stopped.updates >= 1 and stopped.guid == first.guid


def test_what_can_never_be_recorded_is_invalid_input(backend: CatalogBackend, project: Path,
                                                     tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no model named 'nope'"):
        backend.record_build(BuildRequest(project_dir=str(project), models=["nope"]))
    with pytest.raises(InvalidInput, match="not a directory"):
        backend.record_build(BuildRequest(project_dir=str(tmp_path / "missing")))
    commit_file(project, "lineage.yml", "Model:\n  hive_table_qualified_names: [\n", "broken")
    with pytest.raises(InvalidInput, match=r"lineage\.yml:\d+:\d+"):
        backend.record_build(BuildRequest(project_dir=str(project)))
    with pytest.raises(InvalidInput):  # its build is not in the catalog
        backend.record_deployment(record(SCOPE.crn(uuid.uuid4()), SCOPE.crn(uuid.uuid4())))


def test_an_unreachable_catalog_is_upstream_unavailable(tmp_path: Path, project: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(environ={"MLCATALOG_ATLAS_PASSWORD": "pw"}, cwd=tmp_path)
    backends: list[CatalogBackend] = [LocalCatalog(atlas_client(settings, down), SCOPE, "cm"),
                                      RemoteCatalog(down, "key", timeout_s=2)]
    for backend in backends:
        try:
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.record_build(BuildRequest(project_dir=str(project)))
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.record_deployment(record(SCOPE.crn(uuid.uuid4()), SCOPE.crn(uuid.uuid4())))
        finally:
            backend.close()


def test_the_remote_catalog_refuses_a_wrong_credential(tmp_path: Path, project: Path) -> None:
    with platform_app(tmp_path / "store") as client:
        remote = RemoteCatalog("http://testserver", "not-a-key", client=client)
        with pytest.raises(Forbidden):
            remote.record_build(BuildRequest(project_dir=str(project)))
        assert json.loads(client.get("/api/v1/builds").text) == []
