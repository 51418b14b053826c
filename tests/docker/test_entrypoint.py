"""docker/entrypoint.sh turns secret files into mlcatalog's variables; docker/healthcheck.py reads them the same
way and asks a real server's /readyz; docker/replica_probe.py asks a replica socket's HEALTH."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlcatalog.app import build_app, open_store
from mlcatalog.settings import load_settings
from tests.conftest import ATLAS_PASSWORD
from tests.docker.mlcatalog_vars import DOCKER, ROOT
from tests.servers import free_port, start_in_thread

ENTRYPOINT = DOCKER / "entrypoint.sh"
TIMEOUT_S = 30


def _base_env(tmp_path: Path) -> dict[str, str]:
    """No MLCATALOG_* of the caller's, and a working directory without a config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _entrypoint_env(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ENTRYPOINT), "env"], env=_base_env(tmp_path) | extra, cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_entrypoint_reads_each_file_into_its_variable(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret with spaces\n")
    (tmp_path / "url").write_text("postgresql://u:p@db:5432/m")
    done = _entrypoint_env(tmp_path, {"MLCATALOG_ATLAS_PASSWORD_FILE": str(tmp_path / "pw"),
                                      "MLCATALOG_METRICS_URL_FILE": str(tmp_path / "url"),
                                      "MLCATALOG_HIVE_HOST": "hiveserver2"})
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("MLCATALOG_"))
    assert env == {"MLCATALOG_ATLAS_PASSWORD": "s3cret with spaces", "MLCATALOG_METRICS_URL":
                   "postgresql://u:p@db:5432/m", "MLCATALOG_HIVE_HOST": "hiveserver2"}


def test_entrypoint_refuses_a_variable_given_twice(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("one")
    done = _entrypoint_env(tmp_path, {"MLCATALOG_ATLAS_PASSWORD_FILE": str(tmp_path / "pw"),
                                      "MLCATALOG_ATLAS_PASSWORD": "two"})
    assert done.returncode == 64
    assert "MLCATALOG_ATLAS_PASSWORD" in done.stderr and done.stdout == ""


def test_entrypoint_refuses_a_missing_file(tmp_path: Path) -> None:
    done = _entrypoint_env(tmp_path, {"MLCATALOG_ADMIN_KEY_FILE": str(tmp_path / "absent")})
    assert done.returncode == 66
    assert str(tmp_path / "absent") in done.stderr and done.stdout == ""


@contextmanager
def _platform(tmp_path: Path, **env: str) -> Iterator[int]:
    """``mlcatalog up``'s app over real HTTP in this process; its port."""
    settings = load_settings({"server.store": tmp_path / "store"},
                             environ={"MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD, **env}, cwd=tmp_path)
    store = open_store(settings.server.store)
    try:
        server = start_in_thread(build_app(settings, store))
        try:
            yield int(server.url.rsplit(":", 1)[1])
        finally:
            server.stop()
    finally:
        store.close()


def _healthcheck(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    (tmp_path / "atlas_password").write_text(ATLAS_PASSWORD + "\n")  # a secret file, read as the entrypoint does
    env = _base_env(tmp_path) | {"MLCATALOG_PORT": str(port), "MLCATALOG_HOST": "0.0.0.0",
                                 "MLCATALOG_ATLAS_PASSWORD_FILE": str(tmp_path / "atlas_password")}
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_healthcheck_passes_on_a_ready_server(tmp_path: Path) -> None:
    with _platform(tmp_path) as port:
        done = _healthcheck(tmp_path, port)
    assert done.returncode == 0, done.stderr


def test_healthcheck_passes_degraded_naming_an_atlas_that_is_down(tmp_path: Path) -> None:
    """The platform serves on while Atlas is down (the outbox keeps its writes): healthy, and it says why not fully."""
    atlas = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with _platform(tmp_path, MLCATALOG_ATLAS_URL=atlas) as port:
        done = _healthcheck(tmp_path, port)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"mlcatalog degraded: atlas: Atlas at {atlas} is not reachable"), done.stderr
    assert ATLAS_PASSWORD not in done.stderr


def test_healthcheck_fails_when_nothing_listens(tmp_path: Path) -> None:
    done = _healthcheck(tmp_path, free_port())
    assert done.returncode == 1
    assert "not ready" in done.stderr


def _probe(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOCKER / "replica_probe.py"), str(path)], env=_base_env(path.parent),
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_replica_probe_fails_without_a_replica(tmp_path: Path) -> None:
    done = _probe(tmp_path / "r.sock")
    assert done.returncode == 1
    assert "not healthy" in done.stderr


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets")
def test_replica_probe_fails_on_a_socket_that_answers_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen()
        done = _probe(path)
    assert done.returncode == 1
