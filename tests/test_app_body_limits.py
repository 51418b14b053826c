"""The body bounds of the ``mlcatalog up`` app (and of ``mlcatalog api``'s app) over real HTTP: a request whose body
stalls or trickles is answered 408 in its surface's shape and its connection closed, however many there are; and
the embedded Atlas API's limits, configured through the settings, take effect."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog.api.app import TokenAuth, create_catalog_app
from catalog.embedded.app import REQUEST_TIMEOUT
from catalog.receive_timeout import BodyTimeouts
from mlcatalog.app import build_app, open_store
from mlcatalog.assemble import local_catalog
from mlcatalog.settings import load_settings
from tests.inprocess import ATLAS_PASSWORD, json_of, platform_app, settings_env
from tests.servers import free_port, serving_in_thread

IDLE = 0.5
TIMER_SLACK = 0.01  # asyncio fires a timer up to its clock's resolution early
TOTAL = 2.0
LIMITS = {"MLCATALOG_BODY_TIMEOUT": str(IDLE), "MLCATALOG_BODY_TOTAL_TIMEOUT": str(TOTAL),
          "MLCATALOG_MONITORING": "false"}
BASIC = "Basic " + base64.b64encode(f"admin:{ATLAS_PASSWORD}".encode()).decode()
IDLE_REASON = f"no part of the request body arrived for {IDLE:g} s"
TOTAL_REASON = f"the request body did not arrive within {TOTAL:g} s"

# path, extra headers, the 408 body expected (given the reason)
SURFACES: dict[str, tuple[str, dict[str, str], Any]] = {
    "atlas": ("/api/atlas/v2/entity", {"Authorization": BASIC},
              lambda reason: {"errorCode": REQUEST_TIMEOUT, "errorMessage": f"Request timeout: {reason}"}),
    "api": ("/api/v1/builds", {},
            lambda reason: {"code": "request_timeout", "message": reason, "problems": []}),
    "gateway": ("/model", {},
                lambda reason: {"success": False, "code": "request_timeout", "message": reason}),
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float  # from the last byte sent to the server closing the connection


def stalled(port: int, path: str, headers: dict[str, str], sent: bytes = b'{"entity": ') -> socket.socket:
    """A connection that declared a 1000-byte body and sent only ``sent`` of it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
                 f"{head}\r\n".encode() + sent)
    return sock


def answer_of(sock: socket.socket, since: float) -> Answer:
    """The whole answer, read until the server closes the connection (a timeout here fails the test)."""
    data = b""
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    seconds = time.monotonic() - since
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, json.loads(body), seconds)


def assert_timed_out(a: Answer, surface: str, reason: str) -> None:
    assert a.status == 408 and a.headers["connection"] == "close", a
    assert a.headers["content-type"] == "application/json"
    assert a.body == SURFACES[surface][2](reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``mlcatalog up``'s app with short body timeouts, served by uvicorn on a free port."""
    work = tmp_path_factory.mktemp("body-limits")
    settings = load_settings({"server.store": work / "store"}, environ=settings_env(**LIMITS), cwd=work)
    store = open_store(settings.server.store)
    try:
        with serving_in_thread(build_app(settings, store)) as running:
            yield int(running.url.rsplit(":", 1)[1])
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("surface", SURFACES)
def test_a_stalled_body_is_408_in_the_surface_shape_and_closed(server: int, surface: str) -> None:
    path, headers, _ = SURFACES[surface]
    sock = stalled(server, path, headers)
    a = answer_of(sock, time.monotonic())
    assert_timed_out(a, surface, IDLE_REASON)
    assert IDLE - TIMER_SLACK <= a.seconds < IDLE + 3


@pytest.mark.slow
def test_a_trickled_body_is_408_at_the_total_deadline(server: int) -> None:
    path, headers, _ = SURFACES["api"]
    started = time.monotonic()
    sock = stalled(server, path, headers, sent=b"")
    sock.settimeout(IDLE / 4)
    try:
        while time.monotonic() - started < TOTAL + 3:  # a byte every IDLE/4 s: never idle, never done
            sock.sendall(b" ")
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                pass
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while sending: the answer is already in the socket's buffer
    sock.settimeout(10)
    a = answer_of(sock, started)
    assert_timed_out(a, "api", TOTAL_REASON)
    assert TOTAL - TIMER_SLACK <= a.seconds < TOTAL + 3


@pytest.mark.slow
def test_fifty_stalled_uploads_are_all_answered_and_closed(server: int) -> None:
    surfaces = [list(SURFACES)[i % len(SURFACES)] for i in range(50)]
    started = time.monotonic()
    socks = [stalled(server, SURFACES[s][0], SURFACES[s][1]) for s in surfaces]
    answers = [answer_of(sock, started) for sock in socks]
    for surface, a in zip(surfaces, answers, strict=True):
        assert_timed_out(a, surface, IDLE_REASON)
    assert max(a.seconds for a in answers) < IDLE + 5
    # the server still serves
    sock = socket.create_connection(("127.0.0.1", server), timeout=10)
    sock.sendall(b"GET /api/v1/projects HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    assert answer_of(sock, time.monotonic()).status == 200


@pytest.mark.slow
def test_a_body_sent_in_parts_within_the_bounds_is_served(server: int) -> None:
    body = b'{"accessKey": "nope", "request": {}}'
    sock = socket.create_connection(("127.0.0.1", server), timeout=10)
    sock.sendall(b"POST /model HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body))
    started = time.monotonic()
    for i in range(0, len(body), 12):  # three parts, each well inside IDLE, all inside TOTAL
        time.sleep(IDLE / 3)
        sock.sendall(body[i:i + 12])
    a = answer_of(sock, started)
    assert a.status == 404 and a.body["code"] == "unknown_access_key"


@pytest.mark.slow
def test_the_catalog_api_alone_bounds_its_bodies_too(tmp_path: Path) -> None:
    settings = load_settings(environ={"MLCATALOG_ATLAS_URL": f"http://127.0.0.1:{free_port()}"}, cwd=tmp_path)
    catalog = local_catalog(settings, settings.atlas_url_client(), with_resolvers=False)
    app = create_catalog_app(catalog, TokenAuth(None, False), body_timeouts=BodyTimeouts(idle_s=IDLE, total_s=TOTAL))
    try:
        with serving_in_thread(app) as running:
            sock = stalled(int(running.url.rsplit(":", 1)[1]), "/api/v1/builds", {})
            assert_timed_out(answer_of(sock, time.monotonic()), "api", IDLE_REASON)
    finally:
        catalog.close()


# -- the embedded Atlas API's limits from the settings ----------------------------------------------------------
ATLAS_LIMITS = {"MLCATALOG_ATLAS_MAX_BODY_MB": "1", "MLCATALOG_ATLAS_SEARCH_MAX_LIMIT": "5",
                "MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT": "2"}


def test_configured_atlas_limits_take_effect(tmp_path: Path) -> None:
    auth = ("admin", ATLAS_PASSWORD)
    with platform_app(tmp_path / "store", ATLAS_LIMITS) as client:
        r = client.post("/api/atlas/v2/entity", auth=auth, content=b" " * (1024 * 1024 + 1),
                        headers={"content-type": "application/json"})
        assert r.status_code == 413 and json_of(r) == {
            "errorCode": "ATLAS-413-00-001", "errorMessage": "Request body exceeds the limit of 1048576 bytes"}
        pages = {}
        for limit in (0, 3, 5, 6, 10**6):
            r = client.post("/api/atlas/v2/search/basic", auth=auth, json={"typeName": "DataSet", "limit": limit})
            assert r.status_code == 200, r.text
            pages[limit] = json_of(r)["searchParameters"]["limit"]
        assert pages == {0: 2, 3: 3, 5: 5, 6: 2, 10**6: 2}


def test_the_atlas_limits_default_to_the_stores(tmp_path: Path) -> None:
    auth = ("admin", ATLAS_PASSWORD)
    with platform_app(tmp_path / "store") as client:
        r = client.post("/api/atlas/v2/search/basic", auth=auth, json={"typeName": "DataSet", "limit": 10**6})
        assert json_of(r)["searchParameters"]["limit"] == 100
        r = client.post("/api/atlas/v2/search/basic", auth=auth, json={"typeName": "DataSet", "limit": 10_000})
        assert json_of(r)["searchParameters"]["limit"] == 10_000
        r = client.post("/api/atlas/v2/entity", auth=auth, content=b" " * (1024 * 1024 + 1),
                        headers={"content-type": "application/json"})
        assert r.status_code == 400  # 1 MiB of spaces is within the 16 MiB default: read, and refused as JSON
