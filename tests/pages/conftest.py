"""A server holding the demo's data, for the page tests: ``mlcatalog up --demo --once`` fills a store (the seed's
tables, build, 2-replica deployment, monitor windows, traffic), then the app serves that store over real HTTP for
Chromium. A PII classification is set on the seed's source table, as a data steward would in Atlas."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.inprocess import ADMIN_KEY, ATLAS_PASSWORD, settings_env
from tests.servers import free_port, serving_in_thread, wait_until

ATLAS_UI = "http://atlas.example.com:21000"


@dataclass(frozen=True)
class DemoSite:
    url: str
    key: str
    crn: str
    build_crn: str


def _run_demo(store: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env.update(settings_env())
    r = subprocess.run([sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port", str(free_port()),
                        "--demo", "--once"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _tag_source_table(http: httpx.Client) -> None:
    from mlcatalog.settings import ATLAS_USER

    atlas = (ATLAS_USER, ATLAS_PASSWORD)
    r = http.post("/api/atlas/v2/types/typedefs", auth=atlas, json={"classificationDefs": [
        {"name": "PII", "description": "personal data", "superTypes": [], "attributeDefs": []}]})
    assert r.status_code in (200, 409), r.text
    r = http.post("/api/atlas/v2/entity/uniqueAttribute/type/hive_table/classifications",
                  params={"attr:qualifiedName": "default.wineds_ext@cm"}, json=[{"typeName": "PII"}], auth=atlas)
    assert r.status_code in (200, 204), r.text


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    from mlcatalog.app import build_app, open_store
    from mlcatalog.settings import load_settings

    root = tmp_path_factory.mktemp("pages")
    _run_demo(root / "store")
    # as when the catalog works with a real Atlas: each lineage node links to that Atlas UI's entity page
    settings = load_settings({"server.store": root / "store"}, environ=settings_env(MLCATALOG_ATLAS_UI_URL=ATLAS_UI),
                             cwd=root)
    store = open_store(settings.server.store)
    try:
        with serving_in_thread(build_app(settings, store)) as server, \
                httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
            # ready as a load balancer sees it: the demo's deployment restored (in the background) and its replicas up
            wait_until(lambda: http.get("/readyz").status_code == 200, 120, 0.2, "the demo's deployment restored")
            [dep] = [d for d in http.get("/api/v1/serving/deployments").json() if d["name"] == "wine-demo"]
            _tag_source_table(http)
            yield DemoSite(url=server.url, key=ADMIN_KEY, crn=dep["crn"], build_crn=dep["build_crn"])
    finally:
        store.close()


def sign_in(page: object, key: str) -> None:
    """Answer the page's key dialog, as a person would."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    dialog = page.locator("#key-dialog")
    dialog.wait_for(state="visible", timeout=20_000)
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Use key").click()
