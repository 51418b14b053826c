"""``--atlas-ca-bundle PATH`` and ``--atlas-verify-tls/--no-atlas-verify-tls``: on every command that takes
``--atlas-url``, they set ``atlas.ca_bundle`` and ``atlas.verify_tls`` and beat the environment. Checked against the
embedded Atlas served over HTTPS with a certificate of a CA made here (trustme)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import typer
import uvicorn
from typer.testing import CliRunner

from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from mlcatalog.cli import app
from tests.conftest import ATLAS_PASSWORD
from tests.servers import free_port
from typedefs import load_bundled_typedefs

VERIFY_FAILED = "TLS certificate verify failed"


@dataclass(frozen=True)
class HttpsAtlas:
    url: str
    ca_bundle: Path  # the CA that signed its certificate
    other_ca_bundle: Path  # a CA that did not


@pytest.fixture(scope="module")
def https_atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsAtlas]:
    tmp = tmp_path_factory.mktemp("https-atlas")
    ca, other = trustme.CA(), trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    other.cert_pem.write_to_path(str(tmp / "other-ca.pem"))
    cert.private_key_pem.write_to_path(str(tmp / "server.key"))
    for i, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(tmp / "server.pem"), append=i > 0)
    store = EmbeddedStore(tmp / "store", load_bundled_typedefs())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(standalone_app(store, password=ATLAS_PASSWORD), host="127.0.0.1",
                                           port=port, log_level="critical", ssl_certfile=str(tmp / "server.pem"),
                                           ssl_keyfile=str(tmp / "server.key")))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the HTTPS server did not start"
            time.sleep(0.02)
        yield HttpsAtlas(f"https://127.0.0.1:{port}", tmp / "ca.pem", tmp / "other-ca.pem")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No MLCATALOG_* of the caller's and no config file: only what a test sets."""
    for name in [n for n in os.environ if n.startswith("MLCATALOG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def typedefs_dry_run(atlas: HttpsAtlas, *flags: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["typedefs", "apply", "--dry-run", "--atlas-url", atlas.url, *flags],
                                env={"MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD, **env}, prog_name="mlcatalog")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_ca_bundle_flag_beats_the_environment(https_atlas: HttpsAtlas, isolated: Path) -> None:
    env = {"MLCATALOG_ATLAS_CA_BUNDLE": str(https_atlas.other_ca_bundle)}
    code, output = typedefs_dry_run(https_atlas, **env)
    assert code == 1 and VERIFY_FAILED in output, output  # the environment's CA did not sign the certificate
    code, output = typedefs_dry_run(https_atlas, "--atlas-ca-bundle", str(https_atlas.ca_bundle), **env)
    assert code == 0, output


def test_verify_tls_flags_beat_the_environment(https_atlas: HttpsAtlas, isolated: Path) -> None:
    code, output = typedefs_dry_run(https_atlas, MLCATALOG_ATLAS_VERIFY_TLS="false")
    assert code == 0, output
    code, output = typedefs_dry_run(https_atlas, "--atlas-verify-tls", MLCATALOG_ATLAS_VERIFY_TLS="false")
    assert code == 1 and VERIFY_FAILED in output, output
    code, output = typedefs_dry_run(https_atlas, "--no-atlas-verify-tls", MLCATALOG_ATLAS_VERIFY_TLS="true")
    assert code == 0, output


def test_up_takes_both_flags(isolated: Path) -> None:
    """Given together they contradict each other, which ``up`` refuses before it creates its store."""
    (isolated / "ca.pem").write_text("")
    result = CliRunner().invoke(app, ["up", "--store", "store", "--atlas-url", "https://127.0.0.1:1",
                                      "--atlas-ca-bundle", "ca.pem", "--no-atlas-verify-tls"], prog_name="mlcatalog")
    assert result.exit_code == 2, result.output
    assert "ca_bundle is set and verify_tls is false" in result.output and "command line" in result.output
    assert not (isolated / "store").exists()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command under ``group`` by its words (typer's groups are not click's classes: known by commands)."""
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))
    else:
        yield " ".join(path), group


def test_every_command_taking_atlas_url_takes_the_tls_flags() -> None:
    taking = {name: {opt for p in command.params for opt in [*p.opts, *p.secondary_opts]}
              for name, command in _commands(typer.main.get_command(app)) if any(
                  "--atlas-url" in p.opts for p in command.params)}
    assert {"up", "typedefs apply", "build", "lineage", "impact", "api"} <= set(taking)
    for name, options in taking.items():
        assert {"--atlas-ca-bundle", "--atlas-verify-tls", "--no-atlas-verify-tls"} <= options, name
