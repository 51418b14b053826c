"""The catalog home in Chromium: the demo's project, model, build and deployment with live status, and search by
CRN, name and classification."""

from __future__ import annotations

from typing import Any

from tests.browser import artifacts_dir, chromium_page
from tests.pages.conftest import DemoSite, sign_in


def rows(page: Any, kind: str) -> Any:
    return page.locator(f"#catalog tbody tr[data-kind={kind}]")


def test_home_lists_the_catalog_with_live_status(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/")
        sign_in(page, demo_site.key)  # the serving platform's status needs a key
        dep = page.locator(f'#catalog tr[data-crn="{demo_site.crn}"]')
        dep.wait_for(timeout=20_000)
        for kind in ("project", "model", "build", "deployment"):
            assert rows(page, kind).count() >= 1, kind
        text = dep.inner_text()
        assert "wine-demo" in text and demo_site.crn in text and "deployed" in text
        assert "2/2" in text  # both replicas in rotation
        assert "ago" in text  # the time of the last prediction
        assert dep.locator("[data-drift]").get_attribute("data-drift") in ("ok", "warning", "drifting", "unknown")
        assert "PII" in dep.locator(".tag").all_inner_texts()  # from the source table, upstream
        assert "project" in page.locator("#counts").inner_text()
        page.screenshot(path=str(artifacts_dir() / "page-home.png"), full_page=True)


def test_search_finds_a_deployment_by_crn_name_and_classification(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/")
        sign_in(page, demo_site.key)
        page.locator("#catalog").wait_for(timeout=20_000)
        for query in (demo_site.crn, "wine-demo", "pii"):
            page.get_by_label("search the catalog").fill(query)
            deployments = rows(page, "deployment")
            assert deployments.count() == 1, query
            assert deployments.first.get_attribute("data-crn") == demo_site.crn
            assert "1 matching" in page.locator("#counts").inner_text()
        page.get_by_label("search the catalog").fill("no-such-thing-anywhere")
        assert page.get_by_text("Nothing in the catalog matches.").is_visible()
        # a table's qualifiedName is not in the tree: the page offers its lineage
        page.get_by_label("search the catalog").fill("default.wineds_ext@cm")
        link = page.locator("#qn-lineage")
        assert link.is_visible()
        link.click()
        page.locator("g.node").first.wait_for(timeout=20_000)
        assert page.locator("#title").inner_text() == "Lineage of wineds_ext"
        page.screenshot(path=str(artifacts_dir() / "page-home-search.png"))
