"""The pages people look at: the catalog home (``/``), lineage (``/lineage``) and a deployment's dashboard
(``/dashboard``).

Each page is one HTML shell and our own JavaScript (``static/``, no third-party code, nothing from a CDN) that
reads the same JSON APIs as the CLI, so the pages show nothing an API caller could not see and follow the APIs'
read rules: when a call answers 401/403 the page asks for a key and keeps it for the browser tab only
(``sessionStorage``). Serving the files themselves needs no key: they hold no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["PAGES", "STATIC_PREFIX", "install_pages"]

STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/ui/static"
#: URL path -> (title, the page's script in ``static/``)
PAGES = {"/": ("Catalog", "home.js"), "/lineage": ("Lineage", "lineage.js"),
         "/dashboard": ("Deployment dashboard", "dashboard.js")}
# Every page is this shell: the script draws the rest from the API.
_SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · mlcatalog</title>
<link rel="stylesheet" href="{static}/style.css">
<script type="module" src="{static}/{script}"></script>
</head>
<body>
<main id="main" aria-busy="true"><p class="muted">Loading…</p></main>
<noscript>This page needs JavaScript (it reads the JSON API under /api/v1).</noscript>
</body>
</html>
"""
# Our own files change with the installed version: revalidate rather than cache blindly.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                       "frame-ancestors 'none'"}


def install_pages(app: FastAPI) -> None:
    """Serve the pages and their assets on ``app``."""
    for path, (title, script) in PAGES.items():
        html = _SHELL.format(title=title, static=STATIC_PREFIX, script=script)
        app.add_api_route(path, _page(html), methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="pages-static")


def _page(html: str) -> Callable[[], Awaitable[HTMLResponse]]:
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=_HEADERS)

    return page
