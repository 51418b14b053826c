"""`mlcatalog up` as a real process: readiness, Basic auth, official client, signals, restart, refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.exceptions import AtlasServiceException
from apache_atlas.model.instance import AtlasEntity, AtlasEntityWithExtInfo
from typer.testing import CliRunner

from mlcatalog.cli import app
from tests.servers import free_port, wait_http

REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "cli-test-password"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0  # a ceiling for a loaded CI machine (up imports scipy and friends: ~2.5 s alone)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any MLCATALOG_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")


@contextmanager
def mlcatalog(tmp_path: Path, *args: str, env: dict[str, str]) -> Iterator[Proc]:
    """``python -m mlcatalog <args>`` in ``tmp_path``; killed (by PID) on exit if still running."""
    n = len(list(tmp_path.glob("out-*")))
    out, err = tmp_path / f"out-{n}.txt", tmp_path / f"err-{n}.txt"
    with out.open("wb") as fo, err.open("wb") as fe:
        popen = subprocess.Popen([sys.executable, "-m", "mlcatalog", *args], cwd=tmp_path, env=env,
                                 stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
    try:
        yield Proc(popen, out, err)
    finally:
        if popen.poll() is None:
            os.kill(popen.pid, signal.SIGKILL)
            popen.wait()


def wait_ready(proc: Proc, url: str) -> None:
    try:
        wait_http(f"{url}/api/atlas/admin/status", timeout=START_TIMEOUT, auth=("admin", PASSWORD), proc=proc.popen,
                  logs=lambda: f"{proc.stdout()}\n{proc.stderr()}")
    except RuntimeError as e:
        pytest.fail(str(e))


def stop(proc: Proc, sig: signal.Signals) -> int:
    proc.popen.send_signal(sig)
    try:
        return proc.popen.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server did not exit within {STOP_TIMEOUT}s after {sig.name}")


@contextmanager
def atlas_client(url: str, password: str) -> Iterator[AtlasClient]:
    client = AtlasClient(url, ("admin", password))
    try:
        yield client
    finally:
        client.session.close()


def hive_db(qualified_name: str) -> AtlasEntityWithExtInfo:
    entity = AtlasEntity({"typeName": "hive_db", "attributes": {
        "qualifiedName": qualified_name, "name": "sales", "clusterName": "cl1"}})
    return AtlasEntityWithExtInfo({"entity": entity})


def test_up_serves_atlas_api_with_auth_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    store, port = tmp_path / "store", free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(MLCATALOG_ATLAS_PASSWORD=PASSWORD)
    qualified_name = "sales@cl1"

    with mlcatalog(tmp_path, "up", "--store", str(store), "--port", str(port), env=env) as proc:
        wait_ready(proc, url)
        typedef_url = f"{url}/api/atlas/v2/types/typedef/name/DataSet"
        assert httpx.get(typedef_url).status_code == 401
        assert httpx.get(typedef_url, auth=("admin", "wrong")).status_code == 401
        assert httpx.get(typedef_url, auth=("admin", "admin")).status_code == 401  # no default password
        assert httpx.get(typedef_url, auth=("admin", PASSWORD)).status_code == 200
        assert httpx.get(typedef_url + "/", auth=("admin", PASSWORD)).json()["name"] == "DataSet"

        with atlas_client(url, "wrong") as client, pytest.raises(AtlasServiceException, match="401"):
            client.typedef.get_entitydef_by_name("DataSet")
        with atlas_client(url, PASSWORD) as client:
            assert client.typedef.get_entitydef_by_name("DataSet").name == "DataSet"
            created = client.entity.create_entity(hive_db(qualified_name))
            guid = created.mutatedEntities["CREATE"][0].guid

        assert stop(proc, signal.SIGTERM) == 0
        lines = proc.stdout().splitlines()
        assert len(lines) == 3, lines
        assert f"listening on {url}" in lines[0]
        assert str(store) in lines[0]
        assert lines[1] == f"catalog records into Atlas: embedded store in {store}"
        # No MLCATALOG_ADMIN_KEY: the first start creates an administrative key and prints it, once.
        assert lines[2].startswith("administrative key (shown once")
        admin_key = lines[2].rsplit(" ", 1)[1]
        assert admin_key.startswith("mlk_")
        assert "Traceback" not in proc.stderr()
    assert (store / "atlas.db").is_file()

    # Second start on the same store: the entity is still there. Ctrl-C (SIGINT) also exits cleanly.
    with mlcatalog(tmp_path, "up", "--store", str(store), "--port", str(port), env=env) as proc:
        wait_ready(proc, url)
        with atlas_client(url, PASSWORD) as client:
            found = client.entity.get_entity_by_attribute("hive_db", {"qualifiedName": qualified_name})
        assert found.entity.guid == guid
        assert found.entity.attributes["name"] == "sales"
        # the key printed at the first start is the administrative credential
        r = httpx.get(f"{url}/api/v1/serving/api-keys", headers={"Authorization": f"Bearer {admin_key}"})
        assert r.status_code == 200, r.text
        assert [k["admin"] for k in r.json()] == [True]
        assert stop(proc, signal.SIGINT) == 0
        assert "Traceback" not in proc.stderr()
        assert "administrative key" not in proc.stdout()  # shown once only


def test_up_atlas_url_flag_is_named_at_start_up_without_credentials(tmp_path: Path) -> None:
    store, port, atlas_port = tmp_path / "store", free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    atlas = f"http://catalog:hunter2@127.0.0.1:{atlas_port}/atlas"
    env = clean_env(MLCATALOG_ATLAS_PASSWORD=PASSWORD, MLCATALOG_ADMIN_KEY="flag-test-admin-key-000")
    with mlcatalog(tmp_path, "up", "--store", str(store), "--port", str(port), "--atlas-url", atlas,
                   env=env) as proc:
        wait_ready(proc, url)
        assert stop(proc, signal.SIGTERM) == 0
        lines = proc.stdout().splitlines()
    assert lines[1] == f"catalog records into Atlas: http://catalog:***@127.0.0.1:{atlas_port}/atlas (user admin)"
    assert "hunter2" not in proc.stdout() + proc.stderr()
    assert len(lines) == 2  # an administrative key is configured: none is created


def test_up_refuses_non_loopback_host_without_password(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with mlcatalog(tmp_path, "up", "--host", "0.0.0.0", "--store", str(store), "--port", str(free_port()),
                   env=clean_env()) as proc:
        assert proc.popen.wait(timeout=STOP_TIMEOUT) == 2
    err = proc.stderr().strip()
    assert "\n" not in err
    assert "0.0.0.0" in err and "password" in err and "MLCATALOG_ATLAS_PASSWORD" in err
    assert "listening" not in proc.stdout()
    assert not store.exists()  # refused before the store was opened


def test_up_fails_cleanly_when_store_dir_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    store = tmp_path / "a-file" / "store"
    with mlcatalog(tmp_path, "up", "--store", str(store), "--port", str(free_port()), env=clean_env()) as proc:
        assert proc.popen.wait(timeout=STOP_TIMEOUT) == 1
    err = proc.stderr().strip()
    assert "\n" not in err
    assert str(store) in err


def test_up_fails_when_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with mlcatalog(tmp_path, "up", "--store", str(tmp_path / "store"), "--port", str(port),
                       env=clean_env()) as proc:
            assert proc.popen.wait(timeout=START_TIMEOUT) == 1
    assert "address already in use" in proc.stderr()
    assert "Traceback" not in proc.stderr()


# -- in-process: help and usage errors --------------------------------------------------------------


def test_help_is_readable() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"], prog_name="mlcatalog")
    assert result.exit_code == 0
    assert "Usage: mlcatalog" in result.output and "up" in result.output
    result = runner.invoke(app, ["up", "--help"], prog_name="mlcatalog")
    assert result.exit_code == 0
    for option in ("--store", "--port", "--host", "MLCATALOG_ATLAS_PASSWORD"):
        assert option in result.output


@pytest.mark.parametrize("args", [["up", "--port", "http"], ["up", "--port", "0"], ["up", "--nope"], ["down"]])
def test_bad_flags_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, prog_name="mlcatalog")
    assert result.exit_code == 2
