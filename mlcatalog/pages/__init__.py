"""The pages people look at: the catalog home (``/``), lineage (``/lineage``) and a deployment's dashboard
(``/dashboard``).

Each page is a static HTML file and our own JavaScript (``static/``, no third-party code, nothing from a CDN) that
reads the same JSON APIs as the CLI, so the pages show nothing an API caller could not see and follow the APIs'
read rules: when a call answers 401/403 the page asks for a key and keeps it for the browser tab only
(``sessionStorage``). Serving the files themselves needs no key: they hold no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["PAGES", "STATIC_PREFIX", "install_pages"]

STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/ui/static"
#: URL path -> the page's file in ``static/``
PAGES = {"/": "home.html", "/lineage": "lineage.html", "/dashboard": "dashboard.html"}
# Our own files change with the installed version: revalidate rather than cache blindly.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                       "frame-ancestors 'none'"}


def install_pages(app: FastAPI) -> None:
    """Serve the pages and their assets on ``app``."""
    for path, name in PAGES.items():
        app.add_api_route(path, _page(STATIC / name), methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="pages-static")


def _page(file: Path) -> Callable[[], Awaitable[FileResponse]]:
    async def page() -> FileResponse:
        return FileResponse(file, media_type="text/html; charset=utf-8", headers=_HEADERS)

    return page
