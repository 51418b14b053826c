"""The API docs work offline: the page loads Swagger UI from this server, never from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

from tests.inprocess import platform_app


def test_the_docs_page_and_its_assets_are_served_here(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store") as client:
        r = client.get("/api/v1/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r"url: '([^']+)'", r.text)
        assert urls and all(u.startswith("/api/v1/") for u in urls), urls
        assert "/api/v1/openapi.json" in r.text
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
        js = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
        assert "javascript" in js.headers["content-type"] and b"SwaggerUIBundle" in js.content
        redirect = client.get("/docs", follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"] == "/api/v1/docs"


def test_the_docs_page_renders_in_chromium_with_no_network(tmp_path: Path) -> None:
    from mlcatalog.app import build_app, open_store
    from mlcatalog.settings import load_settings
    from tests.browser import artifacts_dir, chromium_page
    from tests.inprocess import settings_env
    from tests.servers import serving_in_thread

    settings = load_settings({"server.store": tmp_path / "store"}, environ=settings_env(), cwd=tmp_path)
    store = open_store(settings.server.store)
    try:
        with serving_in_thread(build_app(settings, store)) as server, chromium_page() as page:
            page.goto(f"{server.url}/docs")
            page.get_by_text("/api/v1/serving/monitors", exact=True).first.wait_for(timeout=20_000)
            assert page.url == f"{server.url}/api/v1/docs"
            assert page.get_by_role("heading", name="mlcatalog").first.is_visible()
            page.screenshot(path=str(artifacts_dir() / "api-docs.png"), full_page=False)
    finally:
        store.close()
