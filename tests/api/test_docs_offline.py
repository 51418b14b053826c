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
