"""Atlas's own web UI in front of the embedded store: ``mlcatalog up --atlas-ui DIR`` serves the UI build in ``DIR``
(Atlas's ``dashboardv2``, as in the webapp of an Atlas release) at ``/atlas/``, as Atlas's webapp serves it.

* ``/atlas/api/atlas/...``: the embedded store's Atlas API (the UI derives its API base from the page's path), which
  here takes the UI's session cookie as well as HTTP Basic;
* ``/atlas/login.jsp``: the login page (the release's ``login.html.template`` when ``DIR`` has one, else ours, with
  the build's own styles and login script); ``POST /atlas/j_spring_security_check`` signs in with the Atlas API's
  credentials, ``/atlas/logout.html`` signs out (Atlas's Spring Security form login and logout);
* ``/atlas/``: the UI (``index.html``), for a signed-in browser; without a session a page goes to the login page and
  a script's call gets a 401 (AtlasAuthenticationEntryPoint);
* everything else: the build's files. Styles, scripts and images (Atlas's unauthenticated paths: ``css/``, ``img/``,
  ``js/``, ``libs/``...) are served to anyone, with Last-Modified/ETag and 304s; every other file needs a session and
  is never cached (Spring Security's headers). No directory listings, no path outside ``DIR``, GET and HEAD only.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from catalog.embedded.app import ATLAS_PREFIX, AtlasApp, create_app
from catalog.embedded.limits import Limits
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.websession import Sessions
from mlcatalog.settings import ATLAS_UI_PREFIX, ConfigError

__all__ = ["UI_PREFIX", "AtlasUi", "check_ui_dir", "mount_atlas_ui"]

UI_PREFIX = ATLAS_UI_PREFIX
# AtlasSecurityConfig.configure(WebSecurity): what Atlas serves without authentication
PUBLIC_DIRS = ("css/", "img/", "libs/", "js/", "n/css/", "n/img/", "n/libs/", "n/js/")
PUBLIC_FILES = ("ieerror.html", "migration-status.html")
LOGIN_TEMPLATE = "login.html.template"  # AtlasLoginServlet's page, in an Atlas release's webapp
# HeadersUtil's security headers, on every page of the UI
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob: data:; "
                               "connect-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline';"
                               "font-src 'self' data:",
}
# Spring Security's cache headers, on everything that needs a session
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache", "Expires": "0"}
# The types of a UI build's files, whatever this machine's mime.types says
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".gif": "image/gif", ".jpg": "image/jpeg", ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2",
    ".ttf": "font/ttf", ".otf": "font/otf", ".eot": "application/vnd.ms-fontobject",
    ".txt": "text/plain; charset=utf-8",
}

LOGIN_PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8" />
    <title>Atlas Login</title>
    <meta name="viewport" content="width=device-width" />
    <link href="js/libs/bootstrap/css/bootstrap.min.css" rel="stylesheet" type="text/css" />
    <link href="js/libs/font-awesome/css/font-awesome.min.css" rel="stylesheet" />
    <link href="css/login.css" rel="stylesheet" type="text/css" />
    <script src="js/libs/jquery/js/jquery.min.js"></script>
    <script src="js/libs/jquery-placeholder/js/jquery.placeholder.js"></script>
    <script src="js/modules/atlasLogin.js"></script>
</head>
<body class="login-body">
<div class="login-form">
    <div class="logo-container text-center"><img src="img/atlas_logo.svg" alt="Apache Atlas" /></div>
    <h4>Sign In to your account</h4>
    <form action="" method="post" accept-charset="utf-8">
        <div class="form-group icon-group user">
            <input type="text" name="username" id="username" class="form-control" placeholder="Username"
                   aria-label="Username" tabindex="1" required autofocus />
        </div>
        <div class="form-group icon-group password">
            <input type="password" name="password" id="password" class="form-control" placeholder="Password"
                   aria-label="Password" tabindex="2" autocomplete="off" required />
            <i class="fa fa-eye-slash show-password"></i>
        </div>
        <span id="errorBox" class="col-md-12 help-inline"
              style="color:#FF1A40;display:none;text-align:center;padding-bottom:10px;">
            <span class="errorMsg"></span></span>
        <button class="btn btn-default btn-block btn-login" id="signIn">Log in</button>
    </form>
</div>
</body>
</html>
"""


def check_ui_dir(directory: Path) -> None:
    """Refuse, with a one-line :class:`ConfigError`, a directory that holds no Atlas UI build."""
    if not directory.is_dir():
        raise ConfigError(f"atlas.ui_dir: {directory} is not a directory")
    if not (directory / "index.html").is_file():
        raise ConfigError(f"atlas.ui_dir: {directory} holds no Atlas UI build (no index.html)")


def ui_settings(directory: Path) -> dict[str, Any]:
    """What ``admin/session`` tells this build: the UI to open after signing in (Atlas's default, the React UI at
    ``n3/``, only if the build has one; else the classic UI)."""
    return {"atlas.ui.default.version": "v3" if (directory / "n3" / "index.html").is_file() else "v1"}


class _BuildFiles(StaticFiles):
    """The build's files, with the types of :data:`CONTENT_TYPES` (others: as guessed, else octet-stream)."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        suffix = Path(full_path).suffix.lower()
        known = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(str(full_path))[0]
        response.headers["content-type"] = known or "application/octet-stream"
        return response


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC_DIRS) or path in PUBLIC_FILES


class AtlasUi:
    """The ASGI app mounted at :data:`UI_PREFIX` (see the module's docstring)."""

    def __init__(self, directory: Path, api: AtlasApp) -> None:
        self.directory = directory
        self.api = api
        self.files = _BuildFiles(directory=directory, follow_symlink=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        root: str = scope.get("root_path", "")
        path: str = scope["path"]
        if root and path.startswith(root):
            path = path[len(root):]
        if path == ATLAS_PREFIX or path.startswith(ATLAS_PREFIX + "/"):
            await self.api({**scope, "root_path": root + ATLAS_PREFIX}, receive, send)
            return
        segments = path.split("/")
        if ".." in segments or "\\" in path or "\x00" in path:
            await self._answer(PlainTextResponse("Not Found", 404), scope, receive, send)
            return
        rel = "/".join(s for s in segments if s not in ("", "."))
        if rel == "j_spring_security_check":
            await self.api.login(scope, receive, send)
        elif rel == "logout.html":
            await self.api.logout(scope, receive, send, then=f"{root}/login.jsp")
        elif scope["method"] not in ("GET", "HEAD"):
            await self._answer(PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"}),
                               scope, receive, send)
        elif rel == "login.jsp":
            await self._answer(self._login_page(), scope, receive, send, NO_STORE)
        elif _is_public(rel):
            await self._answer(await self._file(rel, scope), scope, receive, send)
        elif self.api.authenticate(scope) is None:
            await self._answer(self._unauthenticated(scope, root), scope, receive, send, NO_STORE)
        else:
            await self._answer(await self._file(rel or "index.html", scope), scope, receive, send, NO_STORE)

    def _login_page(self) -> Response:
        template = self.directory / LOGIN_TEMPLATE
        html = template.read_text(encoding="utf-8") if template.is_file() else LOGIN_PAGE
        return HTMLResponse(html)

    @staticmethod
    def _unauthenticated(scope: Scope, root: str) -> Response:
        """AtlasAuthenticationEntryPoint: a script's call is a 401, a page goes to the login page."""
        for key, value in scope.get("headers", []):
            if key == b"x-requested-with" and value == b"XMLHttpRequest":
                return PlainTextResponse("Unauthorized", 401)
        return RedirectResponse(f"{root}/login.jsp", 302)

    async def _file(self, rel: str, scope: Scope) -> Response:
        try:
            return await self.files.get_response(rel, scope)
        except HTTPException as e:  # not there, a directory, outside the build: no more said
            return PlainTextResponse("Not Found" if e.status_code == 404 else str(e.detail), e.status_code)

    @staticmethod
    async def _answer(response: Response, scope: Scope, receive: Receive, send: Send,
                      extra: dict[str, str] | None = None) -> None:
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            response.headers[name] = value
        await response(scope, receive, send)


def mount_atlas_ui(app: FastAPI, directory: Path, store: EmbeddedStore, *, user: str, password: str,
                   limits: Limits) -> None:
    """Serve the UI build in ``directory`` at :data:`UI_PREFIX` of ``app``, over ``store``'s Atlas API (its
    credentials, a session secret made now: a restart signs everyone out)."""
    api = create_app(store, user=user, password=password, limits=limits, sessions=Sessions(path=UI_PREFIX),
                     ui_settings=ui_settings(directory))
    app.mount(UI_PREFIX, AtlasUi(directory, api))
