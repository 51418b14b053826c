"""The deployment dashboard in Chromium over the demo's traffic and monitor windows: each chart draws as many points
as the API query it links returns; the time range and auto-refresh controls change what is asked."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import expect

from tests.browser import artifacts_dir, chromium_page
from tests.pages.conftest import DemoSite, sign_in
from tests.servers import wait_until


def chart(page: Any, title: str) -> Any:
    return page.locator(f'figure[data-chart="{title}"]')


def query_of(site: DemoSite, figure: Any) -> Any:
    href = figure.locator("a.query").get_attribute("href")
    r = httpx.get(site.url + href, headers={"Authorization": f"Bearer {site.key}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_dashboard_charts_what_the_api_returns(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/dashboard?crn={demo_site.crn}&refresh=off")
        sign_in(page, demo_site.key)
        page.locator("#traffic figure").first.wait_for(timeout=20_000)
        assert page.locator("#title").inner_text().startswith("wine-demo")

        rate = chart(page, "Request rate")
        traffic = query_of(demo_site, rate)
        assert traffic["points"] and sum(p["requests"] for p in traffic["points"]) >= 900  # the demo's 3 phases
        assert rate.locator("circle.point").count() == len(traffic["points"])
        latency = chart(page, "Latency")
        assert latency.locator("circle.point").count() == 3 * len(traffic["points"])  # p50, p95, p99
        assert chart(page, "Error rate").locator("circle.point").count() == len(traffic["points"])

        windows = query_of(demo_site, chart(page, "Accuracy on labelled predictions"))
        done = [w for w in windows if w["status"] == "done"]
        assert len(done) >= 3  # the demo's three windows
        accuracy = [w for w in done if w["result"]["accuracy"] is not None]
        assert accuracy and chart(page, "Accuracy on labelled predictions").locator("circle.point").count() == len(
            accuracy)
        # every drift statistic over time, with its threshold drawn
        chisq = chart(page, "prediction · chisquare p-value")
        with_p = [w for w in done for t in w["result"]["tests"]
                  if t["column"] == "prediction" and t["test"] == "chisquare" and t["p_value"] is not None]
        assert chisq.locator("circle.point").count() == len(with_p) and chisq.locator("line.threshold").count() == 1
        assert page.locator("#drift figure").count() > 10  # features x tests, plus the drifted share
        statuses = {w["result"]["status"] for w in done}
        assert "drifting" in statuses  # the demo's drifting phase is in range
        bars = chart(page, "Predictions (prediction) against the reference").locator("rect.bar")
        assert bars.count() >= 4  # two classes, this range and the reference
        assert page.locator("#replicas tbody tr").count() == 2
        assert "in rotation" in page.locator("#replicas").inner_text()
        page.screenshot(path=str(artifacts_dir() / "page-dashboard.png"), full_page=True)


def test_the_time_range_changes_the_queries(demo_site: DemoSite) -> None:
    with chromium_page() as page:
        page.goto(f"{demo_site.url}/dashboard?crn={demo_site.crn}&refresh=off&range=1h")
        sign_in(page, demo_site.key)
        rate = chart(page, "Request rate")
        rate.wait_for(timeout=20_000)

        def span() -> int:
            q = parse_qs(urlsplit(rate.locator("a.query").get_attribute("href")).query)
            return int(q["end_ms"][0]) - int(q["start_ms"][0])

        assert abs(span() - 3_600_000) < 5_000
        page.get_by_label("time range").select_option("7d")
        expect(page).to_have_url(re.compile(r"[?&]range=7d"))
        wait_until(lambda: abs(span() - 7 * 86_400_000) < 5_000, timeout=20, what="the 7-day query")
        page.get_by_label("auto-refresh").select_option("10s")
        assert "refresh=10s" in page.url
        before = page.locator("#updated").inner_text()
        expect(page.locator("#updated")).not_to_have_text(before, timeout=25_000)
        page.screenshot(path=str(artifacts_dir() / "page-dashboard-7d.png"), full_page=True)
