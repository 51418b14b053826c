"""``mlcatalog up --atlas-ui DIR`` (``mlcatalog.atlas_ui``): Atlas's web UI build served at ``/atlas/`` with Atlas's
form login, a session cookie and ``/atlas/api/atlas/*`` routed to the Atlas API; without it, no ``/atlas`` at all.

Against a small build made here (what the server does with any build); the real UI in Chromium is
tests/pages/test_atlas_ui.py. Expected behaviour: Atlas's webapp (AtlasSecurityConfig, AtlasAuthenticationSuccess/
FailureHandler, AtlasAuthenticationEntryPoint, AtlasCSRFPreventionFilter, HeadersUtil, Jetty's DefaultServlet).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from catalog.embedded.app import create_app
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.websession import Sessions
from mlcatalog.atlas_ui import AtlasUi, check_ui_dir
from mlcatalog.settings import ConfigError, load_settings
from tests.inprocess import ATLAS_PASSWORD, platform_app
from tests.servers import free_port, wait_http
from tests.test_cli import clean_env, mlcatalog
from typedefs import load_bundled_typedefs

BASIC = ("admin", ATLAS_PASSWORD)
XHR = {"X-Requested-With": "XMLHttpRequest"}
NO_STORE = "no-cache, no-store, max-age=0, must-revalidate"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A UI build: index.html, scripts, styles, images, a font, a file of no known type, a page that needs a
    session, a sub-directory, and a link pointing out of the build."""
    root = tmp_path_factory.mktemp("ui")
    (root / "secret.txt").write_text("outside the build")
    d = root / "dashboardv2"
    for rel, text in {"index.html": "<html><body>the Atlas UI</body></html>", "js/main.js": "var atlas = 1;",
                      "css/style.css": "body {}", "img/logo.svg": "<svg/>", "img/font.woff2": "wOF2",
                      "js/data.weird": "?", "admin.html": "<html>admin page</html>", "js/sub/inner.js": "1;",
                      "ieerror.html": "<html>old browser</html>"}.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    os.symlink(root / "secret.txt", d / "js" / "escape.js")
    return d


@pytest.fixture(scope="module")
def site(build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = tmp_path_factory.mktemp("projects") / "store"
    with platform_app(store, {"MLCATALOG_ATLAS_UI_DIR": str(build), "MLCATALOG_MONITORING": "false"}) as client:
        yield client


def signed_in(site: TestClient) -> TestClient:
    site.cookies.clear()
    r = site.post("/atlas/j_spring_security_check", data={"j_username": "admin", "j_password": ATLAS_PASSWORD})
    assert (r.status_code, r.json()) == (200, {"msgDesc": "Success"}), r.text
    return site


def csrf(site: TestClient) -> str:
    return str(site.get("/atlas/api/atlas/admin/session").json()["_csrfToken"])


# -- without the flag -----------------------------------------------------------------------------------------
def test_without_a_ui_there_is_no_atlas_path(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store", {"MLCATALOG_MONITORING": "false"}) as client:
        for path in ("/atlas/", "/atlas/login.jsp", "/atlas/api/atlas/admin/session", "/atlas/index.html"):
            assert client.get(path, auth=BASIC).status_code == 404, path
        assert client.get("/api/atlas/admin/session", auth=BASIC).status_code == 200


# -- settings and start-up ------------------------------------------------------------------------------------
def test_the_ui_dir_setting_flag_env_file(tmp_path: Path, build: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mlcatalog.toml").write_text('[atlas]\nui_dir = "ui-from-file"\n')
    env = {"MLCATALOG_CONFIG": str(tmp_path / "conf" / "mlcatalog.toml")}
    assert load_settings(environ={}, cwd=tmp_path).atlas.ui_dir is None
    assert load_settings(environ=env, cwd=tmp_path).atlas.ui_dir == tmp_path / "conf" / "ui-from-file"
    from_env = load_settings(environ={**env, "MLCATALOG_ATLAS_UI_DIR": "ui-from-env"}, cwd=tmp_path)
    assert from_env.atlas.ui_dir == tmp_path / "ui-from-env"
    flagged = load_settings({"atlas.ui_dir": build}, environ={**env, "MLCATALOG_ATLAS_UI_DIR": "x"}, cwd=tmp_path)
    assert flagged.atlas.ui_dir == build
    assert load_settings(environ={"MLCATALOG_ATLAS_UI_DIR": " "}, cwd=tmp_path).atlas.ui_dir is None
    # lineage nodes link to the served UI when the catalog records into the embedded store
    assert flagged.atlas_ui_url() == "/atlas"
    assert load_settings({"atlas.ui_dir": build, "atlas.url": "http://atlas.example:21000"}, environ={},
                         cwd=tmp_path).atlas_ui_url() == "http://atlas.example:21000"


def test_a_directory_without_a_build_is_refused(tmp_path: Path, build: Path) -> None:
    check_ui_dir(build)
    with pytest.raises(ConfigError, match="not a directory"):
        check_ui_dir(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"no index\.html"):
        check_ui_dir(tmp_path)


def test_up_refuses_a_missing_ui_before_creating_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with mlcatalog(tmp_path, "up", "--store", str(store), "--port", str(free_port()), "--atlas-ui",
                   str(tmp_path / "no-ui"), env=clean_env()) as proc:
        assert proc.popen.wait(timeout=15) == 2
    err = proc.stderr().strip()
    assert "\n" not in err and "no-ui" in err and "not a directory" in err
    assert not store.exists()


@pytest.mark.slow
def test_up_serves_the_ui(tmp_path: Path, build: Path) -> None:
    port = free_port()
    with mlcatalog(tmp_path, "up", "--store", str(tmp_path / "store"), "--port", str(port), "--atlas-ui",
                   str(build), env=clean_env()) as proc:
        wait_http(f"http://127.0.0.1:{port}/atlas/login.jsp", timeout=30)
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert "atlasLogin.js" in http.get("/atlas/login.jsp").text
            r = http.post("/atlas/j_spring_security_check", data={"j_username": "admin", "j_password": "admin"})
            assert r.status_code == 200 and "ATLASSESSIONID" in http.cookies
            assert "the Atlas UI" in http.get("/atlas/").text
        proc.popen.send_signal(2)
        assert proc.popen.wait(timeout=15) == 0
    assert f"Atlas web UI at /atlas/ (from {build})" in proc.stdout()


# -- pages, sign-in and sign-out ------------------------------------------------------------------------------
def test_pages_need_a_session_and_go_to_the_login_page(site: TestClient) -> None:
    site.cookies.clear()
    r = site.get("/atlas", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith("/atlas/")
    for path in ("/atlas/", "/atlas/index.html", "/atlas/admin.html", "/atlas/no-such-page.html"):
        r = site.get(path, follow_redirects=False)
        assert (r.status_code, r.headers.get("location")) == (302, "/atlas/login.jsp"), path
        assert r.headers["cache-control"] == NO_STORE and r.headers["x-frame-options"] == "DENY"
    r = site.get("/atlas/index.html", headers=XHR)  # a script's call: a 401 the UI answers by going to login.jsp
    assert r.status_code == 401 and "location" not in r.headers
    r = site.get("/atlas/api/atlas/admin/session")
    assert (r.status_code, r.json()["errorCode"]) == (401, "ATLAS-401-00-001")
    assert "www-authenticate" not in r.headers  # no browser password dialog over the UI's own login


def test_the_login_page(site: TestClient, build: Path) -> None:
    r = site.get("/atlas/login.jsp")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    page = r.text
    for needed in ('id="username"', 'id="password"', 'id="signIn"', 'id="errorBox"', "js/modules/atlasLogin.js",
                   "css/login.css", "js/libs/jquery/js/jquery.min.js"):
        assert needed in page, needed
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert site.post("/atlas/login.jsp").status_code == 405
    (build / "login.html.template").write_text("<html>the release's own login page</html>")
    try:
        assert site.get("/atlas/login.jsp").text == "<html>the release's own login page</html>"
    finally:
        (build / "login.html.template").unlink()


def test_sign_in_with_the_atlas_credentials(site: TestClient) -> None:
    site.cookies.clear()
    url = "/atlas/j_spring_security_check"
    for form, message in (({"j_username": "admin", "j_password": "wrong"}, "Wrong password"),
                          ({"j_username": "root", "j_password": ATLAS_PASSWORD}, "Wrong password"),
                          ({"j_username": "", "j_password": "x"}, "Username can't be null or empty."),
                          ({"j_username": "admin"}, "Password can't be null or empty.")):
        r = site.post(url, data=form)
        assert (r.status_code, r.json()) == (401, {"msgDesc": message}) and "set-cookie" not in r.headers
    assert site.get(url).status_code == 405
    assert site.post(url, content=b"j_username=" + b"a" * 20_000).status_code == 413
    r = site.post(url, data={"j_username": "admin", "j_password": ATLAS_PASSWORD})
    assert r.status_code == 200 and r.json() == {"msgDesc": "Success"}
    cookie = r.headers["set-cookie"]
    assert re.match(r"ATLASSESSIONID=[^;]+; Max-Age=43200; Path=/atlas; HttpOnly; SameSite=Lax$", cookie), cookie
    page = site.get("/atlas/", follow_redirects=False)
    assert page.status_code == 200 and "the Atlas UI" in page.text
    assert page.headers["cache-control"] == NO_STORE and page.headers["pragma"] == "no-cache"
    assert site.get("/atlas/admin.html").text == "<html>admin page</html>"


def test_the_ui_calls_the_atlas_api_with_its_session(site: TestClient) -> None:
    signed_in(site)
    session = site.get("/atlas/api/atlas/admin/session").json()
    assert session["userName"] == "admin" and session["atlas.ui.default.version"] == "v1"  # no n3/ in this build
    assert site.get("/atlas/api/atlas/v2/types/typedefs/headers").status_code == 200
    search = {"typeName": "DataSet", "limit": 1}
    r = site.post("/atlas/api/atlas/v2/search/basic", json=search)  # a write-capable call without the token
    assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029") and "CSRF" in r.json()["errorMessage"]
    r = site.post("/atlas/api/atlas/v2/search/basic", json=search, headers={"X-XSRF-HEADER": "guess"})
    assert r.status_code == 400
    r = site.post("/atlas/api/atlas/v2/search/basic", json=search, headers={"X-XSRF-HEADER": session["_csrfToken"]})
    assert r.status_code == 200, r.text
    # the cookie is the UI's: the Atlas API at /api/atlas still wants Basic, and Basic works on the UI's path too
    assert site.get("/api/atlas/admin/session").status_code == 401
    site.cookies.clear()
    r = site.post("/atlas/api/atlas/v2/search/basic", json=search, auth=BASIC)  # no CSRF check for Basic
    assert r.status_code == 200
    assert site.get("/atlas/index.html", auth=BASIC).status_code == 200


def test_sign_out_ends_the_session(site: TestClient) -> None:
    signed_in(site)
    value = site.cookies["ATLASSESSIONID"]
    r = site.get("/atlas/logout.html", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/atlas/login.jsp")
    assert r.headers["set-cookie"].startswith("ATLASSESSIONID=; Max-Age=0")
    site.cookies.clear()
    site.cookies.set("ATLASSESSIONID", value, path="/atlas")  # the old cookie, replayed
    assert site.get("/atlas/api/atlas/admin/session").status_code == 401
    assert site.get("/atlas/", follow_redirects=False).status_code == 302


# -- the build's files ----------------------------------------------------------------------------------------
def test_assets_are_served_to_anyone_with_their_types_and_cache_validators(site: TestClient) -> None:
    site.cookies.clear()
    types = {"/atlas/js/main.js": "text/javascript; charset=utf-8", "/atlas/css/style.css": "text/css; charset=utf-8",
             "/atlas/img/logo.svg": "image/svg+xml", "/atlas/img/font.woff2": "font/woff2",
             "/atlas/js/data.weird": "application/octet-stream", "/atlas/ieerror.html": "text/html; charset=utf-8"}
    for path, content_type in types.items():
        r = site.get(path)
        assert (r.status_code, r.headers["content-type"]) == (200, content_type), path
        assert r.headers["x-content-type-options"] == "nosniff" and "cache-control" not in r.headers
        assert r.headers["last-modified"] and r.headers["etag"]
    r = site.get("/atlas/js/main.js")
    assert site.get("/atlas/js/main.js", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert site.get("/atlas/js/main.js", headers={"If-Modified-Since": r.headers["last-modified"]}).status_code == 304
    assert site.head("/atlas/js/main.js").status_code == 200
    assert site.post("/atlas/js/main.js").status_code == 405


def test_no_directory_listing(site: TestClient) -> None:
    signed_in(site)
    for path in ("/atlas/js/", "/atlas/js", "/atlas/js/sub/", "/atlas/css"):
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 404 and "main.js" not in r.text and "inner.js" not in r.text, path


def raw_get(app: AtlasUi, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, bytes]:
    """``GET path`` as it arrives, undecoded by any client (no dot-segment normalisation)."""
    messages: list[MutableMapping[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays: a response listening for a disconnect waits on
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "/atlas", "query_string": b"",
             "headers": headers or [], "scheme": "http", "http_version": "1.1", "client": ("127.0.0.1", 1),
             "server": ("test", 80)}
    asyncio.run(app(scope, receive, send))
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


def test_no_path_leaves_the_build(build: Path, tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store", load_bundled_typedefs())
    try:
        sessions = Sessions(path="/atlas")
        ui = AtlasUi(build, create_app(store, password="pw", sessions=sessions))
        cookie = [(b"cookie", b"ATLASSESSIONID=" + sessions.encode(sessions.issue("admin")).encode())]
        assert raw_get(ui, "/atlas/js/main.js") == (200, b"var atlas = 1;")
        for path in ("/atlas/../secret.txt", "/atlas/js/../../secret.txt", "/atlas/js/../index.html",
                     "/atlas/css/..\\..\\secret.txt", "/atlas/js/escape.js", "/atlas/js/main.js\x00.png",
                     "/atlas//etc/passwd", "/atlas/" + "a" * 5000):
            for headers, answers in (([], (302, 404)), (cookie, (404,))):  # 302: first to the login page
                status, body = raw_get(ui, path, headers)
                assert status in answers and b"outside the build" not in body and b"root:" not in body, (path, status)
        assert raw_get(ui, "/atlas/./index.html", cookie)[0] == 200
    finally:
        store.close()
