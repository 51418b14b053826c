"""The pages' files: served on the app's port with their assets, all of them our own (nothing from another origin,
no third-party code), and never needing a key themselves (they hold no data: the API calls they make do)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlcatalog.pages import PAGES, STATIC
from tests.inprocess import platform_app


@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_page_and_its_assets_are_served_here(tmp_path: Path, path: str) -> None:
    with platform_app(tmp_path / "store", {"MLCATALOG_API_TOKEN": "t0ken", "MLCATALOG_API_READ_AUTH": "true"}) as c:
        r = c.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert assets and all(a.startswith("/ui/static/") for a in assets), assets
        for a in assets:
            asset = c.get(a)
            assert asset.status_code == 200 and asset.content, a
        # the data behind the page still follows the API's read rules
        assert c.get("/api/v1/deployments").status_code == 401


def test_the_scripts_are_our_own_modules_and_reach_no_other_origin() -> None:
    scripts = sorted(STATIC.glob("*.js"))
    assert {p.name for p in scripts} >= {"common.js", "chart.js", "home.js", "lineage.js", "dashboard.js"}
    for p in scripts:
        text = p.read_text()
        imports = re.findall(r'^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"', text, re.MULTILINE)
        assert all(i.startswith("./") and (STATIC / i[2:]).is_file() for i in imports), (p.name, imports)
        assert bool(imports) == (p.name != "common.js"), (p.name, imports)  # every other module builds on it
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, (p.name, urls)
        assert "innerHTML" not in text and "eval(" not in text, p.name  # catalog text is only ever set as text
    for p in STATIC.glob("*.css"):
        assert not re.search(r"url\(|@import|https?://", p.read_text()), p.name


def test_an_unknown_static_file_is_404(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store") as c:
        assert c.get("/ui/static/nope.js").status_code == 404
        assert c.get("/ui/static/../__init__.py").status_code == 404
