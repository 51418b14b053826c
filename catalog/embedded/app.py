"""ASGI application serving the embedded store at ``/api/atlas/v2`` with HTTP Basic auth."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.routes import JSON, build_admin_router, build_router
from catalog.embedded.store import EmbeddedStore

log = logging.getLogger(__name__)
ATLAS_PREFIX = "/api/atlas"


def _error(status: int, code: str, message: str) -> JSON:
    return JSON({"errorCode": code, "errorMessage": message}, status_code=status)


class AtlasPathMiddleware:
    """Trailing slashes (the official client sends ``entity/``) and Basic auth for the Atlas API."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.user = user.encode()
        self.password = password.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(ATLAS_PREFIX):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path.rstrip("/")
            scope["raw_path"] = scope["path"].encode()
        user = self._authenticate(scope)
        if user is None:
            resp = _error(401, ErrorCode.NOT_AUTHENTICATED.code, "Authentication required")
            resp.headers["WWW-Authenticate"] = 'Basic realm="atlas"'
            await resp(scope, receive, send)
            return
        scope["user_name"] = user
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> str | None:
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() != b"basic":
                    return None
                try:
                    decoded = base64.b64decode(token.strip(), validate=True)
                except (binascii.Error, ValueError):
                    return None
                user, _, password = decoded.partition(b":")
                ok_user = hmac.compare_digest(user, self.user)
                ok_pw = hmac.compare_digest(password, self.password)
                return user.decode(errors="replace") if ok_user and ok_pw else None
        return None


def create_app(store_dir: Path, *, password: str, user: str = "admin",
               initial_typedefs: list[dict[str, Any]] | None = None,
               store: EmbeddedStore | None = None, openapi_prefix: str | None = None,
               lifespan: Any = None) -> FastAPI:
    """The embedded Atlas app. ``initial_typedefs`` defaults to the model bundled under ``typedefs/``."""
    if store is None:
        if initial_typedefs is None:
            from typedefs import load_bundled_typedefs

            initial_typedefs = load_bundled_typedefs()
        store = EmbeddedStore(store_dir, initial_typedefs)
    # OpenAPI documents only what is mounted next to the store (Atlas's own REST surface is not ours to document).
    app = FastAPI(title="mlcatalog", redoc_url=None,
                  openapi_url=f"{openapi_prefix}/openapi.json" if openapi_prefix else None,
                  docs_url=f"{openapi_prefix}/docs" if openapi_prefix else None, lifespan=lifespan)
    app.state.store = store
    app.include_router(build_router(store), prefix=ATLAS_PREFIX, include_in_schema=False)
    app.include_router(build_admin_router(store), prefix=ATLAS_PREFIX, include_in_schema=False)

    @app.exception_handler(AtlasError)
    async def atlas_error(_: Request, exc: AtlasError) -> Response:
        return JSON(exc.body(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return _error(400, ErrorCode.BAD_REQUEST.code, str(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(404, ErrorCode.API_NOT_FOUND.code, f"Given API {request.url.path} not found")
        if exc.status_code == 405:
            return _error(405, "ATLAS-405-00-001", f"method {request.method} not allowed on {request.url.path}")
        return _error(exc.status_code, f"ATLAS-{exc.status_code}-00-000", str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> Response:
        error_id = secrets.token_hex(8)
        log.exception("internal error %s", error_id, exc_info=exc)
        return _error(500, ErrorCode.INTERNAL_ERROR.code,
                      f"There was an error processing your request. It has been logged (ID {error_id}).")

    app.add_middleware(AtlasPathMiddleware, user=user, password=password)
    return app
