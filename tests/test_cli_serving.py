"""The commands that act on a running platform go through its HTTP API (``MLCATALOG_URL``), never through a store
they happen to find in the working directory; offline administration names the store (``--store``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import ADMIN_KEY, REPO, Platform, start_platform


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``mlcatalog ARGS`` in ``cwd`` with only ``env`` of mlcatalog's settings (no store, no config file)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "mlcatalog", *args], cwd=cwd, env={**clean, **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("cli-serving") / "store")
    yield p
    p.stop()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory that has nothing to do with the platform (e.g. a user's project)."""
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


def test_api_keys_are_managed_through_the_platform(platform: Platform, elsewhere: Path) -> None:
    created = run(elsewhere, "api-keys", "create", "ci robot",
        "--role", "deployer", "--project", "*", MLCATALOG_URL=platform.url,
                  MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    key_id = created.stderr.split("key id ")[1].split(";")[0]
    assert list(elsewhere.iterdir()) == [], "a command on a running platform must not create a store here"
    # the key works on the server at once
    r = httpx.get(f"{platform.url}/api/v1/serving/deployments", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    listed = run(elsewhere, "api-keys", "list", MLCATALOG_URL=platform.url, MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    assert listed.returncode == 0 and key_id in listed.stdout and "ci robot" in listed.stdout
    secret = key.removeprefix(f"mlk_{key_id}_")
    assert len(secret) >= 40 and secret not in listed.stdout
    # an ordinary key is no administrative credential
    refused = run(elsewhere, "api-keys", "list", MLCATALOG_URL=platform.url, MLCATALOG_API_KEY=key)
    assert refused.returncode == 1
    assert "administrative key" in refused.stderr and "MLCATALOG_ADMIN_KEY" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    revoked = run(elsewhere, "api-keys", "revoke", key_id, MLCATALOG_URL=platform.url, MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout


def test_an_admin_key_created_with_admin_manages_keys(platform: Platform, elsewhere: Path) -> None:
    admin = run(elsewhere, "api-keys", "create", "ops", "--admin", MLCATALOG_URL=platform.url,
                MLCATALOG_ADMIN_KEY=ADMIN_KEY).stdout.strip()
    listed = run(elsewhere, "api-keys", "list", MLCATALOG_URL=platform.url, MLCATALOG_ADMIN_KEY=admin)
    assert listed.returncode == 0 and re.search(r"active +admin .* ops ", listed.stdout)


def test_outbox_and_deployments_come_from_the_running_platform(platform: Platform, elsewhere: Path) -> None:
    out = run(elsewhere, "outbox", "--json", "--all", MLCATALOG_URL=platform.url, MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(platform.cli("outbox", "--json", "--all").stdout)
    deps = run(elsewhere, "deployments", MLCATALOG_URL=platform.url, MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    assert deps.returncode == 0 and deps.stdout.strip() == "no deployments"
    assert list(elsewhere.iterdir()) == []


def test_no_platform_is_a_one_line_error_and_nothing_is_created(elsewhere: Path) -> None:
    for args in (("outbox",), ("api-keys", "create", "me", "--role", "deployer", "--project", "*"), ("deployments",)):
        r = run(elsewhere, *args, MLCATALOG_URL="http://127.0.0.1:9", MLCATALOG_ADMIN_KEY=ADMIN_KEY)
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [
            "mlcatalog: error: the platform at http://127.0.0.1:9 is not reachable (ConnectError); is `mlcatalog up` "
            "running? (set MLCATALOG_URL to reach another one)"]
    assert list(elsewhere.iterdir()) == []


def test_offline_administration_names_the_store(tmp_path: Path, elsewhere: Path) -> None:
    p = start_platform(tmp_path / "store")
    p.stop()
    created = run(elsewhere, "api-keys", "create", "offline",
        "--role", "deployer", "--project", "*", "--store", str(p.store))
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    outbox = run(elsewhere, "outbox", "--json", "--store", str(p.store))
    assert outbox.returncode == 0 and json.loads(outbox.stdout) == []
    p2 = start_platform(p.store)
    try:
        r = httpx.get(f"{p2.url}/api/v1/serving/deployments", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
    finally:
        p2.stop()
    wrong = run(elsewhere, "api-keys", "create", "x",
        "--role", "deployer", "--project", "*", "--store", str(elsewhere / "not-a-store"))
    assert wrong.returncode == 2 and "not a platform store" in wrong.stderr
    assert list(elsewhere.iterdir()) == []


def test_parked_entries_are_shown_and_retried(tmp_path: Path, elsewhere: Path) -> None:
    from serving.platform.outbox import enqueue, entries
    from serving.platform.state import StateDb

    store = tmp_path / "store"
    store.mkdir()
    db = StateDb(store / "platform.db")
    with db.tx() as c:
        for crn in ("a", "b", "c"):
            enqueue(c, "deployment", {"crn": crn, "status": "deployed"})
        c.execute("UPDATE outbox SET status = 'failed', attempts = 1, last_error = 'InvalidInput: no' WHERE seq > 1")
    listed = run(elsewhere, "outbox", "--store", str(store))
    assert listed.returncode == 0 and "every catalog write was delivered" not in listed.stdout
    assert "2 parked (the catalog refused them)" in listed.stdout and "mlcatalog outbox retry --all" in listed.stdout
    one = run(elsewhere, "outbox", "retry", "2", "--store", str(store))
    assert one.returncode == 0 and one.stdout.strip() == "retrying #2"
    again = run(elsewhere, "outbox", "retry", "2", "--store", str(store))
    assert again.returncode == 1 and again.stderr.strip() == "mlcatalog: error: entry #2 is not parked"
    rest = run(elsewhere, "outbox", "retry", "--all", "--store", str(store))
    assert rest.returncode == 0 and rest.stdout.strip() == "retrying #3"
    assert [e.status for e in entries(db)] == ["pending"] * 3
    bad = run(elsewhere, "outbox", "retry", "--store", str(store))
    assert bad.returncode == 2 and "give one entry's SEQ or --all" in bad.stderr
    db.close()
