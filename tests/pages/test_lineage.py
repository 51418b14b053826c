"""The lineage page in Chromium: the demo deployment's lineage left to right (S3 → tables → build → deployment),
a table's PII tag shown on the deployment, node details and re-centring."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser import artifacts_dir, chromium_page
from tests.pages.conftest import ATLAS_UI, DemoSite


def nodes(page: Any) -> list[dict[str, Any]]:
    out = []
    for n in page.locator("g.node").all():
        box = n.bounding_box()
        out.append({"kind": n.get_attribute("data-kind"), "name": n.get_attribute("data-name"),
                    "x": box["x"], "visible": n.is_visible(), "el": n})
    return out


def test_the_deployments_lineage_reads_left_to_right(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/lineage?crn={demo_site.crn}&depth=6")
        page.locator("g.node").first.wait_for(timeout=20_000)
        found = nodes(page)
        assert all(n["visible"] for n in found)
        x: dict[str, list[float]] = {}
        for n in found:
            x.setdefault(n["kind"], []).append(n["x"])
        names = {n["name"] for n in found}
        assert {"wineds_ext", "wineds_ext_nolabel", "wine-demo"} <= names, names
        # the four layers in order: S3 location, Hive tables, the build, the deployment
        assert max(x["s3"]) < min(x["table"]) or min(x["s3"]) < min(x["table"])
        assert max(x["table"]) < min(x["build"]) < min(x["deployment"])
        s3 = [n for n in found if n["kind"] == "s3"]
        assert s3 and all(n["x"] < min(x["build"]) for n in s3)
        by_name = {n["name"]: n for n in found}
        assert by_name["wineds_ext"]["x"] < by_name["wineds_ext_nolabel"]["x"]  # the INSERT ... SELECT between them
        assert "process" in x  # drawn as a node of its own kind
        # the PII tag set on wineds_ext reaches the deployment, drawn as propagated
        tag = page.locator('g.node[data-kind=deployment] g.tagchip[data-tag="PII"]')
        assert tag.count() == 1 and tag.get_attribute("data-propagated") == "true"
        own = page.locator('g.node[data-name="wineds_ext"] g.tagchip[data-tag="PII"]')
        assert own.get_attribute("data-propagated") == "false"
        # the base node's details are shown: its CRN and endpoint
        details = page.locator("#details")
        assert demo_site.crn in details.inner_text() and "modelEndpointURL" in details.inner_text()
        assert "propagated from wineds_ext" in details.inner_text()
        guid = page.locator("g.node[data-kind=deployment]").get_attribute("data-guid")
        assert page.get_by_role("link", name="Open in Atlas").get_attribute("href") == (
            f"{ATLAS_UI}/index.html#!/detailPage/{guid}")
        page.screenshot(path=str(artifacts_dir() / "page-lineage.png"), full_page=True)


def test_a_click_shows_details_and_recentres(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/lineage?crn={demo_site.crn}&depth=6")
        page.locator("g.node").first.wait_for(timeout=20_000)
        page.locator('g.node[data-kind=build]').click()
        details = page.locator("#details")
        assert "gitCommit" in details.inner_text() and "model build" in details.inner_text()
        page.locator('g.node[data-name="wineds_ext_nolabel"]').click()
        assert "default.wineds_ext_nolabel@cm" in details.inner_text()
        page.get_by_role("button", name="Centre lineage here").click()
        expect(page.locator("#title")).to_have_text("Lineage of wineds_ext_nolabel")
        assert "guid=" in page.url
        base = page.locator("g.node.base")
        assert base.get_attribute("data-name") == "wineds_ext_nolabel"
        # downstream of the table now: the build and the deployment are to its right
        assert page.locator("g.node[data-kind=deployment]").count() == 1
        page.get_by_label("direction").select_option("INPUT")
        expect(page.locator("g.node[data-kind=deployment]")).to_have_count(0)
        assert page.locator("g.node[data-kind=build]").count() == 0
        page.go_back()
        page.locator("g.node[data-kind=deployment]").wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts_dir() / "page-lineage-recentred.png"), full_page=True)


def test_deleted_entities_are_drawn_as_deleted(demo_site: DemoSite) -> None:
    import httpx

    from mlcatalog.settings import ATLAS_USER
    from tests.inprocess import ATLAS_PASSWORD

    auth = (ATLAS_USER, ATLAS_PASSWORD)
    table = {"typeName": "hive_table", "attributes": {
        "qualifiedName": "default.wine_scores@cm", "name": "wine_scores", "owner": "cdsw",
        "db": {"typeName": "hive_db", "uniqueAttributes": {"qualifiedName": "default@cm"}}}}
    process = {"typeName": "hive_process", "attributes": {
        "qualifiedName": "default.wine_scores@cm:1", "name": "score the wines", "operationType": "QUERY",
        "startTime": 1, "endTime": 2, "userName": "cdsw", "queryText": "INSERT INTO default.wine_scores SELECT ...",
        "queryPlan": "Not Supported", "queryId": "",
        "inputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "default.wineds_ext_nolabel@cm"}}],
        "outputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "default.wine_scores@cm"}}]}}
    with httpx.Client(base_url=demo_site.url, auth=auth) as atlas:
        r = atlas.post("/api/atlas/v2/entity/bulk", json={"entities": [table, process]})
        assert r.status_code == 200, r.text
        r = atlas.delete("/api/atlas/v2/entity/uniqueAttribute/type/hive_table",
                         params={"attr:qualifiedName": "default.wine_scores@cm"})
        assert r.status_code == 200, r.text
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/lineage?qualifiedName=default.wineds_ext_nolabel@cm&direction=OUTPUT")
        node = page.locator('g.node[data-name="wine_scores"]')
        node.wait_for(timeout=20_000)
        assert node.get_attribute("data-status") == "DELETED" and "deleted" in (node.get_attribute("class") or "")
        assert node.locator("text.deleted-label").text_content() == "DELETED"
        node.click()
        assert "DELETED" in page.locator("#details").inner_text()
        active = page.locator('g.node[data-kind=deployment]')
        assert active.get_attribute("data-status") == "ACTIVE"
        page.screenshot(path=str(artifacts_dir() / "page-lineage-deleted.png"), full_page=True)
