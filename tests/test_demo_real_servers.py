"""``mlcatalog up --demo`` with a real HiveServer2 and S3 configured: the demo creates the seed's tables THERE.

Spark Thrift Server (HiveServer2, s3a -> SeaweedFS) and SeaweedFS (S3) are started once for this module (they are
stopped by PID at the end); no other module shares them, and the other real-server modules create tables of the same
names in ``default``. SeaweedFS starts without a bucket: the demo creates its own. The demo runs as ``mlcatalog up``
does for a user, configured by MLCATALOG_HIVE_* / MLCATALOG_S3_*: first ``--demo --once``, then live on the same
store (which must reuse everything), queried over the catalog API while it plays and stopped by SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlcatalog.demo import BUCKET, COLUMNS, INSERT_QUERY, SOURCE_KEY
from tests.servers import free_port
from tests.servers_fixtures import RealServers, start_servers

pytestmark = pytest.mark.slow

ADMIN_KEY = "demo-real-servers-admin-key-0123456789"
HIVE_USER = "wine-demo"
ROWS = 1599  # the seed's file has as many


@pytest.fixture(scope="module")
def servers() -> Iterator[RealServers]:
    d = Path(tempfile.mkdtemp(prefix="mlcatalog-demo-it-"))
    try:
        running = start_servers(d, [])
        try:
            yield running
        finally:
            running.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def demo_env(servers: RealServers) -> dict[str, str]:
    assert servers.hive is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env.update(MLCATALOG_HIVE_HOST=servers.hive.host, MLCATALOG_HIVE_PORT=str(servers.hive.port),
               MLCATALOG_HIVE_AUTH=servers.hive.auth, MLCATALOG_HIVE_USER=HIVE_USER,
               MLCATALOG_S3_ENDPOINT=servers.s3.endpoint, MLCATALOG_S3_ACCESS_KEY_ID=servers.s3.access_key,
               MLCATALOG_S3_SECRET_ACCESS_KEY=servers.s3.secret_key, MLCATALOG_ADMIN_KEY=ADMIN_KEY)
    return env


def up_argv(store: Path, port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port", str(port), "--demo", *args]


def hive_rows(servers: RealServers, statement: str) -> list[tuple[Any, ...]]:
    assert servers.hive is not None
    conn = servers.hive.connect()
    try:
        cursor = conn.cursor()
        cursor.execute(statement)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        cursor.close()
        return rows
    finally:
        conn.close()


def described(servers: RealServers, table: str) -> dict[str, str]:
    """``DESCRIBE FORMATTED``'s detail rows (Owner, Created Time, Location, ...) as HiveServer2 sends them."""
    return {str(k).strip(): str(v).strip() for k, v, _ in hive_rows(servers, f"DESCRIBE FORMATTED {table}")}


def wait_for_line(out: Path, proc: subprocess.Popen[bytes], prefix: str, timeout_s: float = 600) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in out.read_text().splitlines():
            if line.startswith(prefix):
                return out.read_text()
        assert proc.poll() is None, f"mlcatalog up exited ({proc.returncode}):\n{out.read_text()}"
        time.sleep(0.5)
    raise AssertionError(f"no line {prefix!r} after {timeout_s:.0f}s:\n{out.read_text()}")


def nodes(tree: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Every path from the deployment up its lineage tree, root first."""
    stack = [[tree]]
    while stack:
        path = stack.pop()
        yield path
        stack.extend([*path, u] for u in path[-1].get("upstream", []))


def check_tables_in_hiveserver2(servers: RealServers) -> None:
    assert hive_rows(servers, "SELECT count(*), count(alcohol) FROM default.wineds_ext") == [(ROWS, ROWS)]
    labels = dict(hive_rows(servers, "SELECT quality, count(*) FROM default.wineds_ext GROUP BY quality"))
    assert set(labels) == {"Excellent", "Poor"} and sum(labels.values()) == ROWS  # no header read as a row
    assert hive_rows(servers, "SELECT count(*), count(alcohol) FROM default.wineds_ext_nolabel") == [(ROWS, ROWS)]
    columns = [r[0] for r in hive_rows(servers, "DESCRIBE default.wineds_ext")]
    assert columns == [*COLUMNS, "quality"]
    assert [r[0] for r in hive_rows(servers, "DESCRIBE default.wineds_ext_nolabel")] == COLUMNS


def check_csv_in_s3(servers: RealServers) -> None:
    client = servers.s3.client()
    try:
        body = client.get_object(Bucket=BUCKET, Key=SOURCE_KEY)["Body"].read().decode()
    finally:
        client.close()
    lines = body.splitlines()
    assert len(lines) == ROWS and all(len(line.split(";")) == 12 for line in lines)
    float(lines[0].split(";")[0])  # data from the first line: no header


def test_the_demo_creates_the_seeds_tables_in_hiveserver2_and_s3(servers: RealServers, tmp_path: Path) -> None:
    env, store = demo_env(servers), tmp_path / "store"
    started_ms = int(time.time() * 1000)
    first = subprocess.run(up_argv(store, free_port(), "--once"), capture_output=True, text=True, timeout=900, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert f"demo: put {ROWS} synthetic wines in s3://{BUCKET}/{SOURCE_KEY}" in out
    assert servers.hive is not None
    hs2 = ("demo: default.wineds_ext and default.wineds_ext_nolabel are in HiveServer2 "
           f"{servers.hive.host}:{servers.hive.port}")
    assert f"{hs2}; ran: {INSERT_QUERY}\n" in out
    windows = [line for line in out.splitlines() if line.startswith("demo: window of 300 predictions")]
    assert len(windows) == 3 and "drift drifting" in windows[1]
    check_tables_in_hiveserver2(servers)
    check_csv_in_s3(servers)

    # Live on the same store: everything is reused (no second INSERT), and the catalog answers while it plays.
    port = free_port()
    log = tmp_path / "live.out"
    with log.open("wb") as sink:
        live = subprocess.Popen(up_argv(store, port), stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        out = wait_for_line(log, live, "demo: Prometheus")
        assert "demo: reusing deployment" in out and "demo: put " not in out and f"{hs2} (reused)\n" in out
        check_catalog(f"http://127.0.0.1:{port}", servers, started_ms)
        wait_for_line(log, live, "demo: the seed's warm-up traffic")
    finally:
        live.send_signal(signal.SIGTERM)
        try:
            code = live.wait(timeout=60)
        except subprocess.TimeoutExpired:
            live.kill()
            code = live.wait()
    assert code == 0 and "mlcatalog: error" not in log.read_text(), log.read_text()
    assert hive_rows(servers, "SELECT count(*) FROM default.wineds_ext_nolabel") == [(ROWS,)]


def check_catalog(base: str, servers: RealServers, started_ms: int) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        [d] = [d for d in http.get("/api/v1/serving/deployments",
                                   headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
               if d["name"] == "wine-demo"]
        inputs = http.get(f"/api/v1/builds/{d['build_crn']}/inputs").json()
        tables = {i["qualified_name"]: i["columns"] for i in inputs if i["type_name"] == "hive_table"}
        assert tables == {"default.wineds_ext@cm": [*COLUMNS, "quality"], "default.wineds_ext_nolabel@cm": COLUMNS}
        # Resolved from HiveServer2, not described by the demo itself: owner, creation and location are its own.
        for table, location in (("wineds_ext", "s3a://mlcatalog-demo/wine_dataset/data"),
                                ("wineds_ext_nolabel", "s3a://mlcatalog-demo/tmp/wine_pred_hive")):
            truth = described(servers, f"default.{table}")
            assert truth["Owner"] == HIVE_USER and truth["Location"] == location
            entity = http.get("/api/atlas/v2/entity/uniqueAttribute/type/hive_table",
                              params={"attr:qualifiedName": f"default.{table}@cm"}, auth=("admin", "admin")).json()
            attrs = entity["entity"]["attributes"]
            assert attrs["owner"] == HIVE_USER and attrs["createTime"] >= started_ms - 1000
        tree = http.get(f"/api/v1/deployments/{d['crn']}/lineage").json()["tree"]
    # deployment <- ... <- wineds_ext_nolabel <- the INSERT (recorded as when it ran) <- wineds_ext <- the S3 location
    [path] = [p for p in nodes(tree) if p[-1]["qualified_name"] == "s3a://mlcatalog-demo/wine_dataset/data/@cm"
              and any(n["qualified_name"] == "default.wineds_ext_nolabel@cm" for n in p)]
    names = [n["qualified_name"] for n in path]
    insert = names[names.index("default.wineds_ext_nolabel@cm") + 1]
    assert names[names.index("default.wineds_ext_nolabel@cm") + 2] == "default.wineds_ext@cm"
    assert insert.startswith("default.wineds_ext_nolabel@cm:") and int(insert.rpartition(":")[2]) >= started_ms
    assert [n["type_name"] for n in path[-3:]] == ["hive_table", "hive_process", "aws_s3_v2_directory"]
