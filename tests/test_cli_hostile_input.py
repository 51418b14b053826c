"""Hostile input to the ``mlcatalog`` command line (mlcatalog/cli*.py), run in-process with typer's runner.

Every case is something a user, a script or a broken environment may hand the commands: out-of-range and malformed
options, NUL bytes, numbers too big for anything, paths that are files, directories or nothing, config files that are
not TOML or hold the wrong types, environment variables that do not parse, URLs that are no URLs, a platform or an
Atlas that is down, and one that answers garbage (a local fake server: non-JSON, the wrong JSON, 500s, redirects,
8 MB bodies, hung-up connections, error messages full of terminal escapes).

Each must end with a non-zero exit status and a short human message (``mlcatalog: error: ...`` on stderr, one to
three printable lines; or click's usage error for arguments click itself refuses), never a Python traceback, and
write nothing: no store directory for a refused ``up``, no change to an offline store, nothing in the working
directory.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from mlcatalog.cli import app
from serving.platform.state import StateDb

CRN = "crn:cdp:ml:local:acct:workspace:ws/11111111-1111-1111-1111-111111111111"
ERROR = "mlcatalog: error: "
MB = 1024 * 1024


# -- running a command ---------------------------------------------------------------------------------------------


@dataclass
class Work:
    """The working directory of a command: a file, an empty directory, and where a store would appear."""

    dir: Path

    @property
    def store(self) -> Path:
        return self.dir / "store"

    @property
    def afile(self) -> Path:
        return self.dir / "afile"

    @property
    def emptydir(self) -> Path:
        return self.dir / "emptydir"

    def listing(self) -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(self.dir)): (p.lstat().st_size, p.lstat().st_mtime_ns)
                for p in sorted(self.dir.rglob("*"))}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Work:
    w = Work(tmp_path / "work")
    w.dir.mkdir()
    w.afile.write_text("not a directory\n")
    w.emptydir.mkdir()
    (w.dir / "notes.txt").write_text("precious user data, not a database\n")
    monkeypatch.chdir(w.dir)  # no mlcatalog.toml of the repository's, and relative paths land here
    return w


@pytest.fixture(autouse=True)
def never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: should a case get ``up`` past its checks, uvicorn fails to start (exit 1) instead of
    serving forever; the case then fails on the exit status and the store left behind."""

    def refuse(self: uvicorn.Server, *args: Any, **kwargs: Any) -> None:
        raise SystemExit(1)

    monkeypatch.setattr(uvicorn.Server, "run", refuse)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """``mlcatalog ARGS`` in this process with exactly ``env`` of mlcatalog's settings."""
    full: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MLCATALOG_")}
    full.update({"COLUMNS": "200", **(env or {})})
    return CliRunner().invoke(app, list(args), env=full, prog_name="mlcatalog")


def no_traceback(result: Result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"a traceback: {type(result.exception).__name__}: {result.exception}") \
            from result.exception
    assert "Traceback" not in result.stdout + result.stderr


def one_line_error(result: Result, code: int, text: str) -> None:
    """Exit ``code``, ``mlcatalog: error: ...`` on stderr (1 to 3 short printable lines holding ``text``), nothing
    on stdout."""
    no_traceback(result)
    assert result.exit_code == code, (result.exit_code, result.stdout[:2000], result.stderr[:2000])
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 3 and all(line.startswith(ERROR) for line in lines), result.stderr[:2000]
    assert all(line.replace("\t", " ").isprintable() and len(line) < 2000 for line in lines), \
        [line[:300] for line in lines]
    assert text in result.stderr, (text, result.stderr[:2000])
    assert result.stdout == "", result.stdout[:2000]


def usage_error(result: Result, text: str) -> None:
    """click's usage error: exit 2, ``Usage: mlcatalog ...`` and the reason on stderr."""
    no_traceback(result)
    assert result.exit_code == 2, (result.exit_code, result.stdout[:2000], result.stderr[:2000])
    assert "Usage: mlcatalog" in result.stderr and text in result.stderr, (text, result.stderr[:2000])
    assert result.stdout == ""


def refused_without_writing(work: Work, run: Callable[[], Result], check: Callable[[Result], None]) -> None:
    before = work.listing()
    result = run()
    check(result)
    assert not work.store.exists(), "a refused command left a store behind"
    assert work.listing() == before


# -- usage errors click refuses ------------------------------------------------------------------------------------

DEPLOY = ["deploy", "--project-dir", "/srv/project", "--model", "m", "--file", "model.py", "--function", "predict"]
ADD = ["monitor", "add", CRN, "--every", "1h"]

USAGE_CASES = [
    pytest.param(["up", "--port", "0"], "--port", id="up-port-zero"),
    pytest.param(["up", "--port", "-1"], "--port", id="up-port-negative"),
    pytest.param(["up", "--port", "99999999999999999999"], "--port", id="up-port-huge"),
    pytest.param(["up", "--port", "http"], "--port", id="up-port-not-a-number"),
    pytest.param(["up", "--port", ""], "--port", id="up-port-empty"),
    pytest.param(["up", "--store", "st\x00ore"], "null byte", id="up-store-NUL"),
    pytest.param(["up", "--nope"], "No such option", id="up-unknown-option"),
    pytest.param(["down"], "No such command", id="unknown-command"),
    pytest.param(["deploy"], "Missing option", id="deploy-missing-options"),
    pytest.param([*DEPLOY, "--replicas", "0"], "--replicas", id="deploy-replicas-zero"),
    pytest.param([*DEPLOY, "--replicas", "17"], "--replicas", id="deploy-replicas-17"),
    pytest.param([*DEPLOY, "--memory-mb", "-1"], "--memory-mb", id="deploy-memory-negative"),
    pytest.param([*DEPLOY, "--cpu-millicores", "1.5"], "--cpu-millicores", id="deploy-cpu-fraction"),
    pytest.param(["deploy", "--project-dir", "a\x00b", *DEPLOY[3:]], "null byte", id="deploy-project-dir-NUL"),
    pytest.param(["logs", CRN, "--lines", "0"], "--lines", id="logs-lines-zero"),
    pytest.param(["logs", CRN, "-n", "-5"], "-n", id="logs-lines-negative"),
    pytest.param(["monitor", "add", CRN], "Missing option", id="monitor-add-without-every"),
    pytest.param([*ADD, "--sample-rows", "29"], "--sample-rows", id="monitor-sample-rows-29"),
    pytest.param([*ADD, "--min-n", "0"], "--min-n", id="monitor-min-n-zero"),
    pytest.param([*ADD, "--min-accuracy", "1.5"], "--min-accuracy", id="monitor-min-accuracy-over-1"),
    pytest.param([*ADD, "--min-accuracy", "nan"], "--min-accuracy", id="monitor-min-accuracy-NaN"),
    pytest.param([*ADD, "--reference-file", "ref\x00.csv"], "null byte", id="monitor-reference-file-NUL"),
    pytest.param(["api-keys", "create", "k", "--expires-days", "-1"], "--expires-days", id="key-expires-negative"),
    pytest.param(["api-keys", "create", "k", "--expires-days", "nan"], "--expires-days", id="key-expires-NaN"),
    pytest.param(["api-keys", "list", "--store", "a\x00b"], "null byte", id="keys-store-NUL"),
    pytest.param(["outbox", "retry", "-1"], "-1", id="outbox-retry-negative"),
    pytest.param(["lint"], "Missing argument", id="lint-without-paths"),
    pytest.param(["lineage-schema", "extra"], "unexpected extra argument", id="lineage-schema-extra-argument"),
    pytest.param(["metrics-db", "upgrade"], "Missing argument", id="metrics-db-upgrade-without-url"),
    pytest.param(["impact"], "Missing argument", id="impact-without-name"),
]


@pytest.mark.parametrize(("args", "text"), USAGE_CASES)
def test_a_usage_error_is_refused_by_click(work: Work, down_url: str, args: list[str], text: str) -> None:
    refused_without_writing(work, lambda: invoke(*args, env={"MLCATALOG_URL": down_url}),
                            lambda r: usage_error(r, text))


# -- settings: flags, environment, config file --------------------------------------------------------------------

INVALID = "invalid setting"

UP_ENV_CASES = [
    pytest.param({"MLCATALOG_PORT": "abc"}, "server.port", id="port-abc"),
    pytest.param({"MLCATALOG_PORT": "0"}, "server.port", id="port-zero"),
    pytest.param({"MLCATALOG_PORT": "99999999999999999999"}, "server.port", id="port-huge"),
    pytest.param({"MLCATALOG_PORT": "1e3"}, "server.port", id="port-exponent"),
    pytest.param({"MLCATALOG_PORT": "21000.5"}, "server.port", id="port-fraction"),
    pytest.param({"MLCATALOG_HOST": "0.0.0.0"}, "without a password", id="host-public-without-password"),
    pytest.param({"MLCATALOG_API_MAX_BODY_MB": "0"}, "api.max_body_mb", id="max-body-zero"),
    pytest.param({"MLCATALOG_API_MAX_BODY_MB": "1e999"}, "api.max_body_mb", id="max-body-overflow"),
    pytest.param({"MLCATALOG_BUSY_TIMEOUT": "-1"}, "serving.busy_timeout_s", id="busy-timeout-negative"),
    pytest.param({"MLCATALOG_BUSY_TIMEOUT": "nan"}, "serving.busy_timeout_s", id="busy-timeout-NaN"),
    pytest.param({"MLCATALOG_REQUEST_TIMEOUT": "0"}, "serving.request_timeout_s", id="request-timeout-zero"),
    pytest.param({"MLCATALOG_REPLICA_POLL_US": "-1"}, "serving.replica_poll_us", id="replica-poll-negative"),
    pytest.param({"MLCATALOG_MONITOR_WORKER": "threads"}, "monitoring.worker", id="monitor-worker-unknown"),
    pytest.param({"MLCATALOG_MONITORING": "maybe"}, "monitoring.enabled", id="monitoring-not-a-boolean"),
    pytest.param({"MLCATALOG_WEBHOOK_SECRET": "short"}, "monitoring.webhook_secret", id="webhook-secret-short"),
    pytest.param({"MLCATALOG_HIVE_AUTH": "KERBEROS"}, "hive.auth", id="hive-auth-unknown"),
    pytest.param({"MLCATALOG_HIVE_PORT": "-5"}, "hive.port", id="hive-port-negative"),
    pytest.param({"MLCATALOG_CRN_REGION": "US WEST"}, "crn.region", id="crn-region-spaces"),
    pytest.param({"MLCATALOG_CRN_WORKSPACE": "a/b"}, "crn.workspace", id="crn-workspace-slash"),
    pytest.param({"MLCATALOG_NAMESPACE": "a b"}, "atlas.namespace", id="namespace-space"),
    pytest.param({"MLCATALOG_ADMIN_KEY": "short"}, "api.admin_key", id="admin-key-short"),
    pytest.param({"MLCATALOG_CATALOG_URL": "file:///etc"}, "serving.catalog_url", id="catalog-url-file"),
    pytest.param({"MLCATALOG_ATLAS_UI_URL": "javascript:alert(1)"}, "atlas.ui_url", id="atlas-ui-url-javascript"),
    pytest.param({"MLCATALOG_URL": "ftp://platform"}, "client.url", id="client-url-ftp"),
    pytest.param({"MLCATALOG_CONFIG": "missing.toml"}, "does not exist", id="config-missing"),
    pytest.param({"MLCATALOG_CONFIG": "emptydir"}, "does not exist", id="config-a-directory"),
]


@pytest.mark.parametrize(("env", "text"), UP_ENV_CASES)
def test_up_refuses_a_bad_environment_before_the_store(work: Work, env: dict[str, str], text: str) -> None:
    refused_without_writing(work, lambda: invoke("up", env={"MLCATALOG_STORE": str(work.store), **env}),
                            lambda r: one_line_error(r, 2, text))


@pytest.mark.parametrize(("args", "text"), [
    pytest.param(["--host", "0.0.0.0"], "without a password", id="host-public-without-password"),
    pytest.param(["--host", ""], "server.host", id="host-empty"),
    pytest.param(["--host", "::1\x00"], "without a password", id="host-NUL"),
    pytest.param(["--once"], "--once goes with --demo", id="once-without-demo"),
])
def test_up_refuses_bad_flags_before_the_store(work: Work, args: list[str], text: str) -> None:
    refused_without_writing(work, lambda: invoke("up", *args, env={"MLCATALOG_STORE": str(work.store)}),
                            lambda r: one_line_error(r, 2, text))


CONFIG_CASES = [
    pytest.param(b"[server\nport = ", "invalid TOML", id="malformed"),
    pytest.param(b"\x00\x01\x02\x03", "invalid TOML", id="binary"),
    pytest.param(b"\xef\xbb\xbf[server]\nport = 21000\n", "invalid TOML", id="utf8-bom"),
    pytest.param(b"[server]\nport = 1\nport = 2\n", "invalid TOML", id="duplicate-key"),
    pytest.param(b"port = 21000\n", "must be a table", id="key-outside-a-table"),
    pytest.param(b"[bogus]\nx = 1\n", INVALID, id="unknown-section"),
    pytest.param(b"[server]\nprot = 21000\n", "server.prot", id="unknown-key"),
    pytest.param(b"[server.deep.deeper]\nx = 1\n", "server.deep", id="nested-table"),
    pytest.param(b'[server]\nport = "abc"\n', "server.port", id="port-string"),
    pytest.param(b"[server]\nport = 99999999999999999999999\n", "server.port", id="port-huge"),
    pytest.param(b"[server]\nport = [1, 2]\n", "server.port", id="port-array"),
    pytest.param(b"[server]\nport = 21000.5\n", "server.port", id="port-fraction"),
    pytest.param(b"[server]\nport = 1979-05-27\n", "server.port", id="port-date"),
    pytest.param(b"[server]\nstore = 5\n", "server.store", id="store-number"),
    pytest.param(b'[server]\nhost = ""\n', "server.host", id="host-empty"),
    pytest.param(b"[serving]\nbusy_timeout_s = nan\n", "serving.busy_timeout_s", id="busy-timeout-NaN"),
    pytest.param(b'[client]\nurl = "ftp://x"\n', "client.url", id="client-url-ftp"),
    pytest.param(b'[api]\nadmin_key = "short"\n', "api.admin_key", id="admin-key-short"),
    pytest.param(b'[server]\nhost = "\xff"\n', "UTF-8", id="not-utf8"),
    pytest.param(b"[server]\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML", id="arrays-nested-5000"),
    pytest.param(b'[server]\nstore = "st\\u0000ore"\n', "server.store", id="store-NUL"),
    pytest.param(b"[server]\nport = true\n", "server.port", id="port-boolean"),
]


@pytest.mark.parametrize(("content", "text"), CONFIG_CASES)
def test_up_refuses_a_bad_config_file_before_the_store(work: Work, tmp_path: Path, content: bytes,
                                                       text: str) -> None:
    config = tmp_path / "mlcatalog.toml"
    config.write_bytes(content)
    refused_without_writing(work, lambda: invoke("up", env={"MLCATALOG_CONFIG": str(config)}),
                            lambda r: one_line_error(r, 2, text))
    assert not (work.dir / ".mlcatalog").exists() and not (tmp_path / ".mlcatalog").exists()


@pytest.mark.parametrize("command", [["deployments"], ["monitor", "list"], ["api-keys", "list"], ["outbox"],
                                     ["impact", "default.t@cm"], ["build", "--project-dir", "."]])
def test_client_commands_refuse_a_malformed_config_file(work: Work, tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "mlcatalog.toml"
    config.write_bytes(b"[client\nurl = ")
    refused_without_writing(work, lambda: invoke(*command, env={"MLCATALOG_CONFIG": str(config)}),
                            lambda r: one_line_error(r, 2, "invalid TOML"))


STORE_CASES = [
    pytest.param(["--store", "afile"], {}, "cannot create store directory", id="store-is-a-file"),
    pytest.param(["--store", "afile/sub"], {}, "cannot create store directory", id="store-under-a-file"),
    pytest.param([], {"MLCATALOG_STORE": "afile"}, "cannot create store directory", id="env-store-is-a-file"),
    pytest.param(["--store", "store", "--atlas-url", "ftp://atlas"], {}, "no Atlas password", id="atlas-url-ftp"),
    pytest.param(["--store", "store"], {"MLCATALOG_ATLAS_URL": "gopher://atlas"}, "no Atlas password",
                 id="env-atlas-url-gopher"),
    pytest.param(["--store", "store"], {"MLCATALOG_METRICS_URL": "bogus://metrics"}, "metrics store",
                 id="env-metrics-url-bogus"),
    pytest.param(["--store", "store", "--atlas-url", "http://[::1"], {"MLCATALOG_ATLAS_PASSWORD": "x"}, "URL",
                 id="atlas-url-bad-ipv6"),
]


@pytest.mark.parametrize(("args", "env", "text"), STORE_CASES)
def test_up_refuses_an_unusable_store_or_atlas(work: Work, args: list[str], env: dict[str, str], text: str) -> None:
    def check(r: Result) -> None:
        no_traceback(r)
        assert r.exit_code in (1, 2), (r.exit_code, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(ERROR) and text in lines[0], r.stderr

    refused_without_writing(work, lambda: invoke("up", *args, env=env), check)
    assert work.afile.read_text() == "not a directory\n"


# -- URLs that are no URLs, platforms and Atlases that are down ---------------------------------------------------


@pytest.fixture
def down_url() -> str:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


URL_CASES = [
    pytest.param("ftp://platform", 2, "client.url", id="ftp"),
    pytest.param("not a url", 2, "client.url", id="not-a-url"),
    pytest.param("http://", 2, "client.url", id="no-host"),
    pytest.param("HTTP://127.0.0.1:1", 2, "client.url", id="scheme-in-capitals"),
    pytest.param("http://user:pa ss@host", 2, "client.url", id="space-in-password"),
    pytest.param("http://[::1", 1, "not reachable", id="bad-ipv6"),
    pytest.param("http://plat\x00form", 1, "not reachable", id="NUL-in-host"),
    pytest.param("http://256.256.256.256:1", 1, "not reachable", id="bad-ipv4"),
    pytest.param("https://" + "a" * 5000, 1, "not reachable", id="host-label-5000-chars"),
]


@pytest.mark.parametrize(("url", "code", "text"), URL_CASES)
def test_a_platform_url_that_is_no_url(work: Work, url: str, code: int, text: str) -> None:
    refused_without_writing(work, lambda: invoke("deployments", "--url", url), lambda r: one_line_error(r, code, text))


ATLAS_URL_CASES = [
    pytest.param(["--atlas-url", "ftp://atlas"], 2, "no Atlas password", id="ftp"),
    pytest.param(["--atlas-url", "http://[::1", "--atlas-password", "x"], 1, "Atlas", id="bad-ipv6"),
    pytest.param(["--atlas-url", "http://at\x00las", "--atlas-password", "x"], 1, "Atlas", id="NUL-in-host"),
    pytest.param(["--atlas-url", "http://256.256.256.256:1", "--atlas-password", "x"], 1, "Atlas", id="bad-ipv4"),
]


@pytest.mark.parametrize(("args", "code", "text"), ATLAS_URL_CASES)
def test_an_atlas_url_that_is_no_url(work: Work, args: list[str], code: int, text: str) -> None:
    refused_without_writing(work, lambda: invoke("impact", "default.t@cm", *args),
                            lambda r: one_line_error(r, code, text))


PLATFORM_COMMANDS = [
    pytest.param(["deployments"], id="deployments"),
    pytest.param(["stop", CRN], id="stop"),
    pytest.param(["logs", CRN, "--lines", "99999999999999999999999"], id="logs-huge-lines"),
    pytest.param([*DEPLOY], id="deploy"),
    pytest.param(["api-keys", "list"], id="api-keys-list"),
    pytest.param(["api-keys", "create", "ci", "--role", "admin", "--expires-days", "1e300"], id="api-keys-create"),
    pytest.param(["api-keys", "revoke", "k\x00"], id="api-keys-revoke-NUL"),
    pytest.param(["outbox"], id="outbox"),
    pytest.param(["outbox", "retry", "99999999999999999999999"], id="outbox-retry-huge"),
    pytest.param(["monitor", "list"], id="monitor-list"),
    pytest.param(["monitor", "add", CRN, "--every", "99999999999999999999w"], id="monitor-add-huge-every"),
    pytest.param(["monitor", "run", CRN, "--window", "1..99999999999999999999999999"], id="monitor-run-huge-window"),
    pytest.param(["monitor", "remove", CRN], id="monitor-remove"),
]


@pytest.mark.parametrize("command", PLATFORM_COMMANDS)
def test_a_platform_that_is_down_is_one_line(work: Work, down_url: str, command: list[str]) -> None:
    refused_without_writing(work, lambda: invoke(*command, "--url", down_url),
                            lambda r: one_line_error(r, 1, "is not reachable"))


@pytest.mark.parametrize("command", [
    pytest.param(["impact", "default.t@cm"], id="impact"),
    pytest.param(["impact", "default.t\x00@cm"], id="impact-NUL"),
    pytest.param(["lineage", CRN], id="lineage"),
    pytest.param(["typedefs", "apply"], id="typedefs-apply"),
    pytest.param(["typedefs", "apply", "--dry-run"], id="typedefs-apply-dry-run"),
])
def test_an_atlas_that_is_down_is_one_line(work: Work, down_url: str, command: list[str]) -> None:
    refused_without_writing(work, lambda: invoke(*command, "--atlas-url", down_url, "--atlas-password", "x"),
                            lambda r: one_line_error(r, 1, "not reachable"))


# -- a server that answers garbage (fault injection) ---------------------------------------------------------------

#: mode -> (status, content type, body); "hang-up" closes the connection without an answer.
ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "text-200": (200, "text/plain", b"hello, this is not JSON"),
    "json-list-200": (200, "application/json", b"[1, 2, 3]"),
    "json-null-200": (200, "application/json", b"null"),
    "redirect-302": (302, "text/html", b""),
    "huge-text-200": (200, "text/plain", b"x" * (8 * MB)),
    "html-500": (500, "text/html", b"<html><body><h1>Internal Server Error</h1></body></html>"),
    "error-list-400": (400, "application/json", b'["not", "an", "object"]'),
    "error-nested-400": (400, "application/json", b'{"message": {"a": [1, {"b": null}]}}'),
    "error-escapes-400": (400, "application/json",
                          b'{"message": "\\u001b]0;owned\\u0007\\u001b[2J cleared\\nmlcatalog: all good"}'),
    "error-huge-400": (400, "application/json", b'{"message": "' + b"m" * (5 * MB) + b'"}'),
    "hang-up": (0, "", b""),
}


class _Garbage(BaseHTTPRequestHandler):
    mode = "text-200"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, content_type, body = ANSWERS[type(self).mode]
        if status == 0:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture(scope="module")
def garbage_server() -> Iterator[tuple[str, type[_Garbage]]]:
    handler = type("Garbage", (_Garbage,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="garbage-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def garbage_cases(commands: dict[str, list[str]], expected_bugs: dict[str, pytest.MarkDecorator]) -> list[Any]:
    """Every command against every answer; ``expected_bugs`` by answer, or by ``command-answer``."""
    cases = []
    for mode in ANSWERS:
        for name, args in commands.items():
            bug = expected_bugs.get(f"{name}-{mode}") or expected_bugs.get(mode)
            cases.append(pytest.param(mode, args, id=f"{name}-{mode}", marks=[bug] if bug else []))
    return cases


PLATFORM_GARBAGE = garbage_cases(
    {"deployments": ["deployments"], "stop": ["stop", CRN], "outbox-retry": ["outbox", "retry", "1"],
     "monitor-list": ["monitor", "list"]},
    {})


@pytest.mark.parametrize(("mode", "command"), PLATFORM_GARBAGE)
def test_a_platform_that_answers_garbage_is_one_line(work: Work, garbage_server: tuple[str, type[_Garbage]],
                                                     mode: str, command: list[str]) -> None:
    url, handler = garbage_server
    handler.mode = mode

    def check(r: Result) -> None:
        one_line_error(r, 1, "")

    refused_without_writing(work, lambda: invoke(*command, "--url", url), check)


ATLAS_GARBAGE = garbage_cases(
    {"impact": ["impact", "default.t@cm"], "typedefs-apply": ["typedefs", "apply", "--dry-run"]},
    {})


@pytest.mark.parametrize(("mode", "command"), ATLAS_GARBAGE)
def test_an_atlas_that_answers_garbage_is_one_line(work: Work, garbage_server: tuple[str, type[_Garbage]],
                                                   mode: str, command: list[str]) -> None:
    url, handler = garbage_server
    handler.mode = mode
    refused_without_writing(work, lambda: invoke(*command, "--atlas-url", url, "--atlas-password", "x"),
                            lambda r: one_line_error(r, 1, ""))


# -- values the commands check themselves ---------------------------------------------------------------------------

VALUE_CASES = [
    pytest.param(["monitor", "add", CRN, "--every", "5x"], "bad --every '5x'", id="every-unknown-unit"),
    pytest.param(["monitor", "add", CRN, "--every", "0m"], "bad --every '0m'", id="every-zero"),
    pytest.param(["monitor", "add", CRN, "--every", "-5m"], "bad --every '-5m'", id="every-negative"),
    pytest.param(["monitor", "add", CRN, "--every", ""], "bad --every ''", id="every-empty"),
    pytest.param(["monitor", "add", CRN, "--every", "1\x00h"], "bad --every", id="every-NUL"),
    pytest.param([*ADD, "--window", "0m"], "bad --window '0m'", id="window-zero"),
    pytest.param([*ADD, "--threshold", "magic=0.1"], "bad --threshold magic", id="threshold-unknown"),
    pytest.param([*ADD, "--threshold", "ks=often"], "not a number", id="threshold-not-a-number"),
    pytest.param([*ADD, "--threshold", "ks"], "bad --threshold 'ks'", id="threshold-without-value"),
    pytest.param([*ADD, "--threshold", "ks=nan"], "ks", id="threshold-NaN"),
    pytest.param([*ADD, "--threshold", "psi=inf"], "bad --threshold", id="threshold-infinity"),
    pytest.param([*ADD, "--threshold", "ks=2"], "bad --threshold", id="threshold-ks-over-1"),
    pytest.param([*ADD, "--expected", "Excellent"], "use NAME=VALUE", id="expected-without-share"),
    pytest.param([*ADD, "--expected", "a=nan"], "must be a positive number", id="expected-NaN"),
    pytest.param([*ADD, "--expected", "a=-1"], "must be a positive number", id="expected-negative"),
    pytest.param([*ADD, "--expected", "a=1e999"], "must be a positive number", id="expected-overflow"),
    pytest.param([*ADD, "--map", "Alcohol"], "bad --map 'Alcohol'", id="map-without-column"),
    pytest.param([*ADD, "--map", "=x"], "bad --map '=x'", id="map-without-metric"),
    pytest.param([*ADD, "--reference-window", "x..y"], "bad time 'x'", id="reference-window-words"),
    pytest.param([*ADD, "--reference-window", ".."], "bad window '..'", id="reference-window-dots"),
    pytest.param([*ADD, "--reference-window", "10..5"], "not after the start", id="reference-window-reversed"),
    pytest.param([*ADD, "--reference-window", "2026-13-45..2027-01-01"], "bad time", id="reference-window-month-13"),
    pytest.param([*ADD, "--numeric-test", "t-test"], "bad --numeric-test", id="numeric-test-unknown"),
    pytest.param(["monitor", "run", CRN, "--window", "5..1"], "not after the start", id="run-window-reversed"),
    pytest.param(["monitor", "run", CRN, "--window", "garbage"], "bad window", id="run-window-garbage"),
    pytest.param(["monitor", "run", CRN, "--window", "-5..5"], "bad time", id="run-window-negative"),
    pytest.param(["api-keys", "create", "ci"], "give the key's role", id="key-without-role"),
    pytest.param(["api-keys", "create", "ci", "--role", "root"], "not a role", id="key-unknown-role"),
    pytest.param(["api-keys", "create", "ci", "--role", "admin", "--expires-days", "inf"], "--expires-days",
                 id="key-expires-infinity"),
    pytest.param(["outbox", "retry"], "give one entry's SEQ or --all", id="retry-neither"),
    pytest.param(["outbox", "retry", "1", "--all"], "give one entry's SEQ or --all", id="retry-both"),
]


@pytest.mark.parametrize(("args", "text"), VALUE_CASES)
def test_a_bad_value_is_refused_before_asking_the_platform(work: Work, down_url: str, args: list[str],
                                                           text: str) -> None:
    # the platform is down: reaching it would be another error than the one expected
    refused_without_writing(work, lambda: invoke(*args, "--url", down_url), lambda r: one_line_error(r, 2, text))


# -- an offline store (--store) ------------------------------------------------------------------------------------


@pytest.fixture
def offline_store(tmp_path: Path) -> Path:
    store = tmp_path / "platform-store"
    StateDb(store / "platform.db")  # what mlcatalog up creates; its connections close with the process
    return store


def store_state(store: Path) -> dict[str, Any]:
    with closing(sqlite3.connect(f"file:{store / 'platform.db'}?mode=ro", uri=True)) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("api_key", "outbox", "deployment")}


def no_store_cases() -> list[Any]:
    return [
        pytest.param(["api-keys", "list", "--store", "nonexistent"], "is not a platform store", id="missing"),
        pytest.param(["api-keys", "list", "--store", "afile"], "is not a platform store", id="a-file"),
        pytest.param(["api-keys", "list", "--store", "emptydir"], "is not a platform store", id="empty-directory"),
        pytest.param(["outbox", "--store", "nonexistent"], "is not a platform store", id="outbox-missing"),
        pytest.param(["outbox", "retry", "1", "--store", "afile"], "is not a platform store", id="retry-a-file"),
        pytest.param(["api-keys", "revoke", "k", "--store", "emptydir"], "is not a platform store",
                     id="revoke-empty-directory"),
        pytest.param(["api-keys", "create", "ci", "--role", "admin", "--store", "nonexistent"],
                     "is not a platform store", id="create-missing"),
    ]


@pytest.mark.parametrize(("args", "text"), no_store_cases())
def test_offline_commands_refuse_what_is_not_a_store(work: Work, args: list[str], text: str) -> None:
    refused_without_writing(work, lambda: invoke(*args), lambda r: one_line_error(r, 2, text))
    assert not (work.dir / "nonexistent").exists()


OFFLINE_CASES = [
    pytest.param(["api-keys", "create", "", "--role", "admin"], 2, "needs a name", id="create-empty-name"),
    pytest.param(["api-keys", "create", "ci\x00", "--role", "admin"], 2, "ci", id="create-name-NUL"),
    pytest.param(["api-keys", "create", "ci\x1b[2J", "--role", "admin"], 2, "ci", id="create-name-escape"),
    pytest.param(["api-keys", "create", "k" * MB, "--role", "admin"], 2, "name", id="create-name-1MB"),
    pytest.param(["api-keys", "create", "ci", "--role", "viewer", "--project", "p\x00"], 2, "project",
                 id="create-project-NUL"),
    pytest.param(["api-keys", "create", "ci", "--role", "viewer"], 2, "needs its projects",
                 id="create-viewer-without-project"),
    pytest.param(["api-keys", "create", "ci", "--role", "admin", "--expires-days", "1e10"], 2, "--expires-days",
                 id="create-expires-in-27-million-years"),
    pytest.param(["api-keys", "create", "ci", "--role", "admin", "--expires-days", "1e300"], 2, "--expires-days",
                 id="create-expires-1e300"),
    pytest.param(["api-keys", "revoke", "nope"], 1, "no active API key", id="revoke-unknown"),
    pytest.param(["api-keys", "revoke", "k\x00"], 1, "no active API key", id="revoke-NUL"),
    pytest.param(["outbox", "retry", "5"], 1, "is not parked", id="retry-unknown-entry"),
    pytest.param(["outbox", "retry", "--all"], 1, "no entry is parked", id="retry-all-when-none"),
    pytest.param(["outbox", "retry", "99999999999999999999999"], 1, "is not parked", id="retry-huge-entry"),
]


@pytest.mark.parametrize(("args", "code", "text"), OFFLINE_CASES)
def test_offline_commands_refuse_bad_input_without_changing_the_store(work: Work, offline_store: Path,
                                                                      args: list[str], code: int, text: str) -> None:
    before = store_state(offline_store)
    refused_without_writing(work, lambda: invoke(*args, "--store", str(offline_store)),
                            lambda r: one_line_error(r, code, text))
    assert store_state(offline_store) == before


# -- metrics-db and the catalog commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "text"), [
    pytest.param("bogus", "unsupported metrics store URL scheme", id="no-scheme"),
    pytest.param("", "unsupported metrics store URL scheme", id="empty"),
    pytest.param("mysql://u@h/db", "unsupported metrics store URL scheme", id="mysql"),
    pytest.param("sqlite:///emptydir", "unable to open database file", id="sqlite-a-directory"),
    pytest.param("sqlite:///notes.txt", "file is not a database", id="sqlite-a-text-file"),
    pytest.param("sqlite:///" + "d" * 300 + ".db", "unable to open database file", id="sqlite-name-too-long"),
    pytest.param("postgresql://u:hunter2@127.0.0.1:1/db", "cannot upgrade postgresql://u@127.0.0.1:1/db",
                 id="postgresql-down"),
])
def test_metrics_db_upgrade_refuses_what_is_not_a_metrics_store(work: Work, url: str, text: str) -> None:
    def check(r: Result) -> None:
        one_line_error(r, 1, text)
        assert "hunter2" not in r.stderr

    absolute = url.replace("sqlite:///", f"sqlite:///{work.dir}/") if url.startswith("sqlite:///") else url
    refused_without_writing(work, lambda: invoke("metrics-db", "upgrade", absolute), check)
    assert (work.dir / "notes.txt").read_text() == "precious user data, not a database\n"


@pytest.mark.parametrize(("args", "text"), [
    pytest.param(["build", "--project-dir", "nonexistent"], "not a directory", id="build-missing-project"),
    pytest.param(["build", "--project-dir", "afile"], "not a directory", id="build-project-is-a-file"),
    pytest.param(["build", "--project-dir", "emptydir"], "not a git repository", id="build-not-a-repository"),
    pytest.param(["build", "--project-dir", "emptydir", "--model", "M\x00"], "--model 'M\\x00'",
                 id="build-model-NUL"),
    pytest.param(["impact", ""], "qualifiedName is required", id="impact-empty-name"),
])
def test_catalog_commands_refuse_bad_input(work: Work, down_url: str, args: list[str], text: str) -> None:
    refused_without_writing(work, lambda: invoke(*args, "--atlas-url", down_url, "--atlas-password", "x"),
                            lambda r: one_line_error(r, 1, text))


@pytest.mark.parametrize(("args", "where"), [
    pytest.param(["build", "--project-dir", "emptydir"], "newstore", id="build"),
    pytest.param(["impact", "default.t@cm"], "newstore", id="impact"),
    pytest.param(["lineage", "default.t@cm"], "afile", id="lineage-store-is-a-file"),
], )
def test_catalog_commands_do_not_create_an_embedded_store(work: Work, args: list[str], where: str) -> None:
    refused_without_writing(work, lambda: invoke(*args, "--atlas-url", f"atlas+embedded:///{work.dir / where}"),
                            lambda r: one_line_error(r, 1, ""))
    assert not (work.dir / "newstore").exists()
