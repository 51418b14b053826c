"""A real platform (`python -m catalog up` subprocess) with a deployed wine model project."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
WINE = REPO / "serving" / "examples" / "wine"
SHARED_CSV = REPO.parent / "shared" / "data" / "WineNewGBTDataSet.csv"


@dataclass
class Platform:
    url: str
    store: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, check: bool = True, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "catalog", *args], capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"mlcatalog {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_platform(store: Path, extra_env: dict[str, str] | None = None) -> Platform:
    port = free_port()
    env = {**os.environ, "MLCATALOG_ATLAS_PASSWORD": "pw", "MLCATALOG_STORE": str(store),
           "MLCATALOG_URL": f"http://127.0.0.1:{port}", "MLCATALOG_CRN_REGION": "us-west-1",
           "MLCATALOG_CRN_ACCOUNT": "acct", "MLCATALOG_CRN_WORKSPACE": "ws", "MLCATALOG_BUSY_TIMEOUT": "5",
           **(extra_env or {})}
    env.pop("MLCATALOG_API_KEY", None)
    store.mkdir(parents=True, exist_ok=True)
    log = store.parent / f"up-{port}.log"
    with log.open("wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "catalog", "up", "--port", str(port)], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlcatalog up exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/atlas/admin/status", auth=("admin", "pw"),
                         timeout=1).status_code == 200:
                return Platform(f"http://127.0.0.1:{port}", store, proc, env, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mlcatalog up did not start")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_wine_project(dest: Path) -> Path:
    """A git project like the seed's: lineage.yml, model.py and a trained scikit-learn model."""
    from serving.examples.wine.train import train

    dest.mkdir(parents=True)
    for name in ("lineage.yml", "model.py"):
        shutil.copy(WINE / name, dest / name)
    train(dest / "wine_model.joblib", SHARED_CSV if SHARED_CSV.exists() else None)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "lineage.yml", "model.py")
    git(dest, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-q", "-m", "wine model")
    return dest


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("platform") / "store")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def wine_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wine_project(tmp_path_factory.mktemp("wine") / "wine-project")
