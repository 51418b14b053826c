"""The platform state's schema on PostgreSQL: created on first open, refused when older (naming the command that
upgrades it, which works as printed) or newer than the code, or when the tables are not mlcatalog's; a state URL
that is no database stops `mlcatalog up` before it creates anything."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from mlcatalog.app import StoreError, check_before_store
from mlcatalog.settings import load_settings
from serving.metrics.errors import UnsupportedStoreUrl
from serving.platform.pgstate import SCHEMA, StateSchemaTooNew, StateSchemaTooOld
from serving.platform.state import open_state, upgrade_state_db
from tests.metrics.conftest import PgServer, pg_server
from tests.servers import free_port
from tests.serving.conftest import start_platform

__all__ = ["pg_server"]


def _version(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(f"SELECT version_num FROM {SCHEMA.version_table}")]


def test_a_fresh_database_gets_the_current_schema(pg_server: PgServer) -> None:
    url = pg_server.create("fresh")
    open_state(url).close()
    assert _version(url) == [SCHEMA.head_revision()] == ["s0004"]
    open_state(url).close()  # and opens as it is


def test_a_newer_or_foreign_schema_is_refused(pg_server: PgServer) -> None:
    url = pg_server.create("newer")
    open_state(url).close()
    with psycopg.connect(url) as conn:
        conn.execute(f"UPDATE {SCHEMA.version_table} SET version_num = 's9999'")
    with pytest.raises(StateSchemaTooNew, match="migrated by a newer mlcatalog"):
        open_state(url)
    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE {SCHEMA.version_table}")
    with pytest.raises(StateSchemaTooNew, match="not created by mlcatalog"):
        open_state(url)


def test_urls_that_are_no_state_are_refused() -> None:
    for url in ("mysql://db/x", "sqlite://host/x.db", "sqlite:///relative/../:memory:/"):
        with pytest.raises(UnsupportedStoreUrl):
            open_state(url)


def test_up_stops_before_creating_anything_when_the_state_cannot_be_reached(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = load_settings({"server.store": tmp_path / "store"}, environ={
        "MLCATALOG_STATE_URL": f"postgresql://nobody@127.0.0.1:{port}/state?connect_timeout=2"}, cwd=tmp_path)
    with pytest.raises(StoreError, match=f"platform state postgresql://nobody@127.0.0.1:{port}/state"):
        check_before_store(settings)
    assert not (tmp_path / "store").exists()


def test_up_refuses_an_old_schema_and_the_printed_command_upgrades_it(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create("old")
    upgrade_state_db(url, "s0001")
    with pytest.raises(StateSchemaTooOld):
        open_state(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env.update({"MLCATALOG_STORE": str(tmp_path / "store"), "MLCATALOG_STATE_URL": url,
                "MLCATALOG_ATLAS_PASSWORD": "pw", "MLCATALOG_PORT": str(free_port())})
    refused = subprocess.run([sys.executable, "-m", "mlcatalog", "up"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0
    lines = [ln for ln in refused.stderr.splitlines() if "state-db upgrade" in ln]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    command = lines[0][lines[0].index("mlcatalog state-db upgrade"):].split(";")[0].rstrip(" ).")
    argv = shlex.split(command)
    assert argv[:3] == ["mlcatalog", "state-db", "upgrade"] and argv[3].startswith("postgresql://")
    upgraded = subprocess.run([sys.executable, "-m", "mlcatalog", *argv[1:]], env=env, capture_output=True,
                              text=True, timeout=120)
    assert upgraded.returncode == 0 and "is at this mlcatalog's schema" in upgraded.stdout, upgraded.stderr
    assert _version(url) == ["s0004"]
    start_platform(tmp_path / "store", {"MLCATALOG_STATE_URL": url}).stop()
