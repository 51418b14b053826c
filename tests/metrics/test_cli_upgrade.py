"""`mlcatalog up` on a PostgreSQL metrics store with an older schema refuses to start and names the command that
upgrades it; that command, run as printed, upgrades it, and `up` then starts."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from serving.metrics import upgrade_metrics_db
from tests.metrics.conftest import PgServer
from tests.servers import free_port
from tests.serving.conftest import start_platform


def _env(store: Path, url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env.update({"MLCATALOG_STORE": str(store), "MLCATALOG_METRICS_URL": url, "MLCATALOG_ATLAS_PASSWORD": "pw",
                "MLCATALOG_PORT": str(port)})
    return env


def test_up_refuses_an_old_schema_and_the_printed_command_upgrades_it(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create("cli")
    upgrade_metrics_db(url, "0001")
    port = free_port()
    env = _env(tmp_path / "store", url, port)
    refused = subprocess.run([sys.executable, "-m", "mlcatalog", "up"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0
    lines = [ln for ln in refused.stderr.splitlines() if "metrics-db upgrade" in ln]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    command = lines[0][lines[0].index("mlcatalog metrics-db upgrade"):].split(";")[0].rstrip(" ).")
    argv = shlex.split(command)
    assert argv[:3] == ["mlcatalog", "metrics-db", "upgrade"] and argv[3].startswith("postgresql://")

    upgraded = subprocess.run([sys.executable, "-m", "mlcatalog", *argv[1:]], env=env, capture_output=True, text=True,
                              timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "is at the current schema" in upgraded.stdout

    # It starts now (start_platform waits for the Atlas status route and raises if `up` exits).
    start_platform(tmp_path / "store", {"MLCATALOG_METRICS_URL": url}).stop()
