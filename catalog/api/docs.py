"""The API docs page (Swagger UI) served with no CDN: its assets come from the installed ``fastapi-offline``
package (nothing third-party is copied into this repository), so the page works on a machine without internet."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, prefix: str) -> None:
    """``{prefix}/docs``: Swagger UI over ``app.openapi_url``, assets under ``{prefix}/docs-assets/``; ``/docs``
    redirects there. Create ``app`` with ``docs_url=None``."""
    assets = f"{prefix}/docs-assets"
    app.mount(assets, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=str(app.openapi_url), title=f"{app.title} API",
                                   swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{assets}/swagger-ui.css",
                                   swagger_favicon_url=f"{assets}/favicon.png")

    @app.get("/docs", include_in_schema=False)
    async def docs_redirect() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/docs")
