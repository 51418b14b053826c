"""The one error body of mlcatalog's own HTTP API (``/api/v1``, the metrics API, unknown paths, 500s)::

    {"code": "not_found", "message": "no ml_model_deployment with CRN ...", "problems": []}

``code`` is one of :data:`catalog.errors.HTTP_STATUS`'s keys, which also gives the status. Installed on the
application that serves those routes; an application mounted inside it (the embedded Atlas API) keeps its own.

Messages often quote the request (a field's location names a map key, an error repeats a name), so an answer is
bounded: each text cut to :data:`MAX_TEXT` characters, at most :data:`MAX_PROBLEMS` problems, and a lone surrogate
(which JSON can carry in but UTF-8 cannot encode out) shown escaped.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import HTTP_STATUS, CatalogError, Unresolved

log = logging.getLogger(__name__)
MAX_TEXT = 2000
MAX_PROBLEMS = 20
_LOC_PART = 80  # a location part may be a map key of any length
_CODE_OF_STATUS = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                   405: "method_not_allowed", 409: "conflict", 413: "too_large", 503: "upstream_unavailable"}


class ErrorBody(BaseModel):
    code: str
    message: str
    problems: list[str] = Field(default_factory=list)


def shown(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as an answer may carry it: at most ``limit`` characters, encodable as UTF-8."""
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


def error_response(code: str, message: str, problems: list[str] | None = None,
                   status: int | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=shown(message), problems=[shown(p) for p in _capped(problems or [])])
    return JSONResponse(body.model_dump(), status_code=status or HTTP_STATUS.get(code, 500))


def error_of(exc: BaseException, where: str = "") -> tuple[int, ErrorBody]:
    """The status and body an exception is answered with (an unexpected one is logged, with the id it shows and
    ``where`` it happened): what the handlers below answer, and an error in the middle of a streamed response."""
    if isinstance(exc, CatalogError):
        problems = exc.problems if isinstance(exc, Unresolved) else []
        code, message = exc.code, exc.message
        if code not in HTTP_STATUS:
            log.error("error code %r has no HTTP status; answered as 500", code)
    else:
        error_id = secrets.token_hex(8)
        log.error("internal error %s%s", error_id, f" on {where}" if where else "", exc_info=exc)
        code, message, problems = "internal", f"internal error; it has been logged with id {error_id}", []
    body = ErrorBody(code=code, message=shown(message), problems=[shown(p) for p in _capped(problems)])
    return HTTP_STATUS.get(code, 500), body


def _answer(exc: BaseException, where: str = "") -> JSONResponse:
    status, body = error_of(exc, where)
    return JSONResponse(body.model_dump(), status_code=status)


def _problem(error: Any) -> str:
    where = ".".join(shown(str(part), _LOC_PART) for part in error.get("loc", ())[1:]) or "body"
    return f"{where}: {error.get('msg')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _capped([_problem(e) for e in exc.errors()])
        return error_response("invalid_input", "invalid request: " + "; ".join(problems), problems)

    @app.exception_handler(CatalogError)
    async def catalog_error(request: Request, exc: CatalogError) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODE_OF_STATUS.get(exc.status_code, "invalid_input" if exc.status_code < 500 else "internal")
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"no such path: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(code, message, status=exc.status_code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return _answer(exc, f"{request.method} {request.url.path}")
