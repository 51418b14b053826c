"""``mlcatalog up --demo --once``: the seed's story end to end on the embedded default, then reused on a rerun."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.servers import free_port

pytestmark = pytest.mark.slow


def up(store: Path, *args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    return subprocess.run([sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port",
                           str(port or free_port()), *args], capture_output=True, text=True, timeout=600, env=env)


def where_lines(out: str, base: str) -> dict[str, str]:
    """The "where to look" lines the demo prints: what -> URL."""
    wanted = ("home", "lineage", "dashboard", "catalog API", "Prometheus")
    found = {}
    for line in out.splitlines():
        for what in wanted:
            if line.startswith(f"demo: {what} ") and " http" in line:
                found[what] = line.removeprefix(f"demo: {what}").split()[0]
    assert set(found) == set(wanted), out
    assert all(url.startswith(base + "/") for url in found.values()), found
    return found


def test_the_demo_plays_the_seeds_story_and_reuses_it(tmp_path: Path) -> None:
    port = free_port()
    first = up(tmp_path / "store", "--demo", "--once", port=port)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    [crn] = [line.removeprefix("demo: deployed ") for line in out.splitlines() if line.startswith("demo: deployed ")]
    base = f"http://127.0.0.1:{port}"
    urls = where_lines(out, base)
    assert urls["home"] == base + "/" and urls["Prometheus"] == base + "/metrics"
    for page in ("lineage", "dashboard"):  # the CRN survives the query string
        parts = urllib.parse.urlsplit(urls[page])
        assert parts.path == f"/{page}" and urllib.parse.parse_qs(parts.query) == {"crn": [crn]}
        assert urls[page] == f"{base}/{page}?crn={urllib.parse.quote(crn, safe=':/')}"
    assert urls["catalog API"] == f"{base}/api/v1/deployments/{crn}"
    assert f"(API docs: {base}/docs)" in out
    assert "demo: trained the wine classifier" in out and "demo: building and deploying the model on 2 replicas" in out
    windows = [line for line in out.splitlines() if line.startswith("demo: window of 300 predictions")]
    assert len(windows) == 3
    assert "drift drifting" not in windows[0] and "drift drifting" not in windows[2]
    assert "drift drifting" in windows[1] and "prediction" in windows[1] and "accuracy 0." in windows[1]
    [lineage] = [line for line in out.splitlines() if line.startswith("demo: lineage ") and " <- " in line]
    layers = lineage.removeprefix("demo: lineage ").split(" <- ")
    assert layers[0] == "ml_model_deployment" and layers[-1] == "aws_s3_v2_directory"
    assert layers.index("ml_model_build") < layers.index("hive_table/ml_project") < layers.index("hive_process")
    # the seed's INSERT ... SELECT: wineds_ext is upstream of wineds_ext_nolabel, behind a process of its own
    assert layers[layers.index("hive_process") + 1] == "aws_s3_v2_directory/hive_table"
    # the store is its owner's alone: the directory 0700, databases and logs 0600
    store = tmp_path / "store"
    assert store.stat().st_mode & 0o777 == 0o700
    made = [p for p in store.rglob("*") if p.is_file() and p.suffix in (".db", ".log")]
    assert any(p.name == "platform.db" for p in made) and any(p.suffix == ".log" for p in made)
    assert all(p.stat().st_mode & 0o077 == 0 for p in made), [oct(p.stat().st_mode) for p in made]
    again = up(tmp_path / "store", "--demo", "--once")
    assert again.returncode == 0, again.stderr
    assert "demo: reusing deployment" in again.stdout and "trained" not in again.stdout
    # the first start printed its administrative key; a rerun has only its hash and makes the pages a key
    assert "demo: the pages ask for a key: the administrative key printed above" in out
    [note] = [line for line in again.stdout.splitlines() if line.startswith("demo: the pages ask for a key: ")]
    key = note.removeprefix("demo: the pages ask for a key: ").split()[0]
    assert note.endswith("(an API key made for this demo)") and len(key) > 20


def test_once_goes_with_demo(tmp_path: Path) -> None:
    r = up(tmp_path / "store", "--once")
    assert r.returncode == 2 and "--once goes with --demo" in r.stderr


def test_without_the_demo_extra_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcatalog.demo import demo_missing

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    assert demo_missing() == "the demo needs scikit-learn: pip install 'mlcatalog[demo]'"


def test_with_a_hiveserver2_the_demo_needs_s3_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env["MLCATALOG_HIVE_HOST"] = "127.0.0.1"
    r = subprocess.run([sys.executable, "-m", "mlcatalog", "up", "--store", str(tmp_path / "store"), "--port",
                        str(free_port()), "--demo"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "configure S3 too (MLCATALOG_S3_ENDPOINT" in r.stderr, r.stderr
    assert not (tmp_path / "store").exists()  # refused before anything was created


def test_the_demo_uses_the_configured_hiveserver2_and_s3() -> None:
    from mlcatalog.demo import demo_warehouse
    from mlcatalog.settings import HiveSettings, S3Settings, Settings

    assert demo_warehouse(Settings(s3=S3Settings(endpoint_url="http://127.0.0.1:8333"))) is None  # DemoTables
    w = demo_warehouse(Settings(
        hive=HiveSettings(host="hs2.internal", port=10001, username="etl", auth="NOSASL"),
        s3=S3Settings(endpoint_url="http://s3.internal:8333", access_key_id="AK", secret_access_key=SecretStr("SK"),
                      region="eu-west-3")))
    assert w is not None
    assert (w.hive.host, w.hive.port, w.hive.username, w.hive.auth) == ("hs2.internal", 10001, "etl", "NOSASL")
    assert (w.s3.endpoint_url, w.s3.access_key_id, w.s3.secret_access_key, w.s3.region) == (
        "http://s3.internal:8333", "AK", "SK", "eu-west-3")
