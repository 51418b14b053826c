"""A real platform (`python -m mlcatalog up` subprocess) with a deployed wine model project."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.platform.pool import replica_health
from tests.servers import free_port, wait_http, wait_until

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "test-admin-key-0123456789"  # the platform's administrative credential in these tests
WINE = REPO / "serving" / "examples" / "wine"
SHARED_CSV = REPO.parent / "shared" / "data" / "WineNewGBTDataSet.csv"
# A model that echoes its request and tracks it as a metric (each prediction gets a UUID and a record).
ECHO_MODEL_PY = '''
import cdsw


@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("input", args)
    return {"echo": args}
'''


@dataclass
class Platform:
    url: str
    store: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, check: bool = True, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "mlcatalog", *args], capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"mlcatalog {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
           "MLCATALOG_ADMIN_KEY": ADMIN_KEY,
           # the tests' projects are made in pytest's temporary directories, beside the store
           "MLCATALOG_PROJECTS_ROOT": str(store.parents[1]), **(extra_env or {})}
    env.pop("MLCATALOG_API_KEY", None)
    store.mkdir(parents=True, exist_ok=True)
    log = store.parent / f"up-{port}.log"
    with log.open("wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "mlcatalog", "up", "--port", str(port)], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/atlas/admin/status", timeout=60, auth=("admin", "pw"), proc=proc,
                  logs=lambda: log.read_text()[-2000:])
        # what ran before a restart is restored in the background: wait for it, as a load balancer would
        wait_until(lambda: _restored(f"http://127.0.0.1:{port}"), 120, 0.1, "the platform's deployments restored")
    except (RuntimeError, AssertionError):
        kill_pids([proc.pid])
        proc.wait()
        raise
    return Platform(f"http://127.0.0.1:{port}", store, proc, env, log)


def _restored(url: str) -> bool:
    """``/readyz`` does not count the deployments among what failed (other checks may: an Atlas kept down)."""
    r = httpx.get(f"{url}/readyz", timeout=10)
    return r.status_code == 200 or "deployments" not in str(r.json().get("message", "")).split(";")[0]


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


# -- helpers for the HA / outbox / gateway tests (new; the fixtures above are unchanged) --------------------
def make_project(dest: Path, files: dict[str, str], models: list[str],
                 tables: tuple[str, ...] = ("default.tiny_input@cm",)) -> Path:
    """A tiny git project: ``lineage.yml`` naming ``models`` (all reading ``tables``) plus ``files``."""
    import json as _json

    dest.mkdir(parents=True)
    lineage = {m: {"hive_table_qualified_names": list(tables)} for m in models}
    (dest / "lineage.yml").write_text(_json.dumps(lineage, indent=2))
    for name, text in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "lineage.yml", *files)
    git(dest, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-q", "-m", "tiny model")
    return dest


def commit_change(project: Path, name: str, text: str, message: str = "change") -> None:
    (project / name).write_text(text)
    git(project, "add", name)
    git(project, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-q", "-m", message)


def replica_socket(p: Platform, crn: str, replica_id: str) -> Path:
    """Where the platform's supervisor puts a replica's socket: ``<store>/replicas/<crn id[:8]>/r<index>.sock``."""
    return p.store / "replicas" / crn.rsplit("/", 1)[-1][:8] / f"r{replica_id.rsplit('-', 1)[1]}.sock"


def health(p: Platform, crn: str, replica_id: str) -> dict[str, Any]:
    """The replica's answer to a HEALTH frame on its socket (what the supervisor's readiness check asks)."""
    return asyncio.run(replica_health(str(replica_socket(p, crn, replica_id)), timeout=5))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def kill_pids(pids: Iterable[int | None]) -> None:
    """SIGKILL the given processes (test cleanup), by PID only."""
    for pid in pids:
        if pid and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def get_deployment(p: Platform, key: str, crn: str) -> dict[str, Any]:
    r = httpx.get(f"{p.url}/api/v1/serving/deployments/{crn}", headers=auth(key), timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


_MODEL_KEYS: dict[tuple[str, str], str] = {}  # (platform URL, model CRN) -> the model's access key


def deploy(p: Platform, key: str, project: Path, model: str, file: str, function: str, *extra: str
           ) -> dict[str, Any]:
    """``mlcatalog deploy --json``; a later build of a model answers no access key (the model keeps its own), so
    ``accessKey`` is filled in with the one its first deploy answered, as a client that keeps it would."""
    import json as _json

    out = p.cli("deploy", "--project-dir", str(project), "--model", model, "--file", file, "--function", function,
                "--json", *extra, env={"MLCATALOG_API_KEY": key})
    dep = dict(_json.loads(out.stdout))
    known = (p.url, dep["modelCrn"])
    if dep.get("accessKey"):
        _MODEL_KEYS[known] = dep["accessKey"]
    else:
        dep["accessKey"] = _MODEL_KEYS[known]
    return dep


def replica_pids(p: Platform, key: str) -> list[int]:
    """Every replica pid the platform reports (for cleanup after a SIGKILL of the platform)."""
    try:
        r = httpx.get(f"{p.url}/api/v1/serving/deployments", headers=auth(key), timeout=10)
        return [rs["pid"] for d in r.json() for rs in d.get("replica_status", []) if rs.get("pid")]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []


@pytest.fixture
def reread_sdk_settings() -> Iterator[Callable[[], None]]:
    """The SDK reads its settings once, when first needed; a test that changes the environment calls this to make
    it read them again (and they are re-read once more when the test is over)."""
    from mlcatalog.sdkconfig import sdk_settings
    from serving import sdk

    def reread() -> None:
        sdk.use_settings(sdk_settings)

    reread()
    yield reread
    reread()
