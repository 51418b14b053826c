"""A monitor on a real platform (``mlcatalog up`` subprocess, the wine model deployed): balanced traffic is ok, a
stream drifting toward "Excellent" flips the status, the catalog's DRIFTING classification and Prometheus, and
balanced traffic flips them back; the seed's own drift script runs unchanged beside the built-in monitor; the
scheduler computes windows by itself and stops with the deployment."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.examples.wine.data import FEATURES, feature_string, generate
from tests.servers import wait_until
from tests.serving.conftest import Platform, make_wine_project, start_platform

MODEL = "Predict w/ Monitoring & Lineage"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("monitor-platform") / "store")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def api_key(platform: Platform) -> str:
    return platform.cli("api-keys", "create", "monitor-e2e", "--role", "deployer", "--project", "*").stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wine_project(tmp_path_factory.mktemp("wine") / "wine-project")


@pytest.fixture(scope="module")
def deployment(platform: Platform, api_key: str, project: Path) -> dict[str, Any]:
    out = platform.cli("deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py",
                       "--function", "predict", "--json", env={"MLCATALOG_API_KEY": api_key})
    return dict(json.loads(out.stdout))


def cli(platform: Platform, key: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return platform.cli(*args, check=check, env={"MLCATALOG_API_KEY": key})


def send(platform: Platform, key: str, access_key: str, rows: list[tuple[list[float], str]]) -> tuple[int, int]:
    """Call the model with each row; returns the [start, end) window, in ms, that holds exactly these calls."""
    time.sleep(0.01)
    start = int(time.time() * 1000)
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        for x, _ in rows:
            r = client.post(f"{platform.url}/model", json={"accessKey": access_key,
                                                           "request": {"feature": feature_string(x)}})
            assert r.status_code == 200, r.text
    time.sleep(0.05)
    return start, int(time.time() * 1000)


def balanced(n: int, seed: int, project: Path | None = None) -> list[tuple[list[float], str]]:
    """The seed's warm-up traffic: good and bad wines in turn (as the model judges them, given its project)."""
    rows = generate(4 * n, seed)
    if project is not None:
        import joblib

        model = joblib.load(project / "wine_model.joblib")
        rows = [(x, str(p)) for (x, _), p in zip(rows, model.predict([x for x, _ in rows]), strict=True)]
    good = [r for r in rows if r[1] == "Excellent"]
    bad = [r for r in rows if r[1] == "Poor"]
    return [pair[i % 2] for i, pair in enumerate(zip(good, bad, strict=False))][:n]


def toward_excellent(n: int, seed: int) -> list[tuple[list[float], str]]:
    return [r for r in generate(6 * n, seed) if r[1] == "Excellent" and r[0][10] > 10.6][:n]


def run_window(platform: Platform, key: str, crn: str, window: tuple[int, int]) -> dict[str, Any]:
    out = cli(platform, key, "monitor", "run", crn, "--window", f"{window[0]}..{window[1]}", "--json")
    [result] = json.loads(out.stdout)
    return dict(result)


def catalog_deployment(platform: Platform, key: str, crn: str) -> dict[str, Any]:
    r = httpx.get(f"{platform.url}/api/v1/deployments/{crn}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def atlas_drifting(platform: Platform) -> list[str]:
    r = httpx.get(f"{platform.url}/api/atlas/v2/search/basic", auth=("admin", "pw"), timeout=30,
                  params={"typeName": "ml_model_deployment", "classification": "DRIFTING"})
    assert r.status_code == 200, r.text
    return [e["attributes"].get("crn") or e["attributes"]["qualifiedName"] for e in r.json().get("entities", [])]


def test_drift_flips_status_classification_and_back(platform: Platform, api_key: str, deployment: dict[str, Any],
                                                    project: Path, tmp_path: Path) -> None:
    crn, ak = deployment["crn"], deployment["accessKey"]
    ok1 = send(platform, api_key, ak, balanced(400, 23, project))
    reference = tmp_path / "training.csv"
    with reference.open("w") as f:
        f.write(";".join(c.lower() for c in FEATURES) + ";quality\n")
        for x, label in generate(1599, 7):  # the data the model was trained on (serving/examples/wine/train.py)
            f.write(";".join(f"{v:g}" for v in x) + f";{label}\n")
    out = cli(platform, api_key, "monitor", "add", crn, "--every", "1h", "--reference-file", str(reference),
              "--expected", "Excellent=0.5,Poor=0.5")
    assert "reference: file" in out.stdout and "Alcohol" in out.stdout and "<- alcohol" in out.stdout

    first = run_window(platform, api_key, crn, ok1)
    # twelve tests at 5% each: a column may cross by chance; the deployment does not drift
    assert first["predictions"] == 400 and first["status"] != "drifting", first["drifted_columns"]
    drift = run_window(platform, api_key, crn, send(platform, api_key, ak, toward_excellent(400, 22)))
    assert drift["status"] == "drifting" and "prediction" in drift["drifted_columns"], drift
    wait_until(lambda: crn in atlas_drifting(platform), timeout=30, what="DRIFTING in Atlas")
    d = catalog_deployment(platform, api_key, crn)
    assert d["drift_status"] == "drifting" and "DRIFTING" in d["classifications"]
    assert "prediction" in d["drift_columns"]

    listing = cli(platform, api_key, "deployments").stdout
    assert "drift drifting (" in listing
    prom = httpx.get(f"{platform.url}/metrics", timeout=30).text
    assert f'mlcatalog_monitor_drift_status{{deployment_crn="{crn}"}} 2.0' in prom

    back = run_window(platform, api_key, crn, send(platform, api_key, ak, balanced(400, 31, project)))
    assert back["status"] != "drifting", back
    wait_until(lambda: crn not in atlas_drifting(platform), timeout=30, what="DRIFTING cleared in Atlas")
    d = catalog_deployment(platform, api_key, crn)
    assert d["drift_status"] == back["status"] and "DRIFTING" not in d["classifications"]

    # the figures are in the metrics store, read back by the SDK as CML would
    script = tmp_path / "read.py"
    script.write_text(f"""
import json, cdsw
res = cdsw.read_metrics(model_deployment_crn={crn!r}, start_timestamp_ms={ok1[0]})
aggs = [r for r in res["metrics"] if r["predictionUuid"] is None]
print(json.dumps([[a["startTimeStampMs"], a["endTimeStampMs"], a["metrics"]["drift.status"],
                   a["metrics"]["chisq_x2"]] for a in aggs]))
""")
    out2 = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          env={**platform.env, "MLCATALOG_API_KEY": api_key})
    assert out2.returncode == 0, out2.stderr
    rows = json.loads(out2.stdout)
    assert [r[2] for r in rows] == [first["status"], "drifting", back["status"]] and rows[0][:2] == list(ok1)


def test_the_seeds_drift_script_runs_beside_the_monitor(platform: Platform, api_key: str,
                                                         deployment: dict[str, Any], tmp_path: Path) -> None:
    """measure_drift.py as in the seed (with its argument order fixed, and only this window's predictions)."""
    crn = deployment["crn"]
    window = send(platform, api_key, deployment["accessKey"], balanced(100, 31))
    script = tmp_path / "measure_drift.py"
    script.write_text(f"""
import cdsw, time
import pandas as pd
from scipy.stats import chisquare
model_deployment_crn = {crn!r}
current_timestamp_ms = int(round(time.time() * 1000))
known_metrics = cdsw.read_metrics(model_deployment_crn=model_deployment_crn, start_timestamp_ms={window[0]},
                                  end_timestamp_ms=current_timestamp_ms)
df = pd.json_normalize(known_metrics["metrics"])
df = df.dropna(subset=["metrics.prediction"])
training_distribution_percent = pd.DataFrame({{"Excellent": [0.50], "Poor": [0.50]}})
columns = sorted(training_distribution_percent.columns)
training_distribution_percent = training_distribution_percent.reindex(columns, axis=1)
current_counts = df.groupby("metrics.prediction")["metrics.prediction"].count()
training_distribution = training_distribution_percent * len(df)
x2, pv = chisquare(current_counts.values, training_distribution.values[0])
cdsw.track_aggregate_metrics({{"chisq_x2": x2, "chisq_p": pv}}, current_timestamp_ms, current_timestamp_ms,
                             model_deployment_crn=model_deployment_crn)
print(x2, pv)
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**platform.env, "MLCATALOG_API_KEY": api_key})
    assert out.returncode == 0, out.stderr
    x2_script = float(out.stdout.split()[0])
    result = run_window(platform, api_key, crn, window)
    [chi] = [t for t in result["tests"] if t["test"] == "chisquare" and t["column"] == "prediction"]
    assert chi["statistic"] == pytest.approx(x2_script, rel=1e-12)  # the same statistic, computed twice


def test_the_scheduler_runs_windows_and_stops_with_the_deployment(platform: Platform, api_key: str,
                                                                   tmp_path: Path) -> None:
    project = make_wine_project(tmp_path / "wine-sched")
    d = json.loads(cli(platform, api_key, "deploy", "--project-dir", str(project), "--model", MODEL, "--file",
                       "model.py", "--function", "predict", "--json").stdout)
    send(platform, api_key, d["accessKey"], balanced(40, 41))
    bad = cli(platform, api_key, "monitor", "add", d["crn"], "--every", "2x", "--expected", "Excellent=1",
              check=False)
    assert bad.returncode == 2 and "bad --every" in bad.stderr
    missing = cli(platform, api_key, "monitor", "add", d["crn"] + "0", "--every", "2s", "--expected",
                  "Excellent=1", check=False)
    assert missing.returncode == 1 and "no deployment" in missing.stderr
    cli(platform, api_key, "monitor", "add", d["crn"], "--every", "2s", "--expected", "Excellent=0.5,Poor=0.5")

    def monitor() -> dict[str, Any]:
        rows = json.loads(cli(platform, api_key, "monitor", "list", "--json").stdout)
        return dict(next(m for m in rows if m["deployment_crn"] == d["crn"]))

    wait_until(lambda: monitor()["last_window_end_ms"] is not None, timeout=60, what="a scheduled window")
    cli(platform, api_key, "stop", d["crn"])
    wait_until(lambda: monitor()["status"] == "stopped", timeout=30, what="the monitor to stop")
    assert monitor()["stopped_reason"] == "deployment stopped"
    assert "stopped" in cli(platform, api_key, "monitor", "list").stdout
    removed = cli(platform, api_key, "monitor", "remove", d["crn"])
    assert "removed" in removed.stdout
    assert d["crn"] not in cli(platform, api_key, "monitor", "list").stdout


def test_monitors_survive_a_restart_and_catch_up_what_they_missed(tmp_path: Path) -> None:
    """The schedule is rebuilt from the platform's state: windows that ended while the platform was down are
    computed after it comes back, each once, with no gap."""
    p = start_platform(tmp_path / "store")
    try:
        key = p.cli("api-keys", "create", "k", "--role", "deployer", "--project", "*").stdout.strip()
        project = make_wine_project(tmp_path / "wine")
        d = json.loads(cli(p, key, "deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py",
                           "--function", "predict", "--json").stdout)
        send(p, key, d["accessKey"], balanced(40, 51))
        cli(p, key, "monitor", "add", d["crn"], "--every", "2s", "--expected", "Excellent=0.5,Poor=0.5")
        wait_until(lambda: windows(p, key, d["crn"]), timeout=60, what="a first window")
    finally:
        p.stop()
    down_since = int(time.time() * 1000)
    time.sleep(7)
    p2 = start_platform(tmp_path / "store")
    try:
        rows = json.loads(cli(p2, key, "monitor", "list", "--json").stdout)
        assert [(m["deployment_crn"], m["status"], m["every"]) for m in rows] == [(d["crn"], "active", "2s")]
        wait_until(lambda: max(w["end_ms"] for w in windows(p2, key, d["crn"])) > down_since + 7000, timeout=60,
                   what="windows after the restart")
        done = sorted(w["end_ms"] for w in windows(p2, key, d["crn"]) if w["status"] == "done")
        assert len(done) == len(set(done)) and all(b - a == 2000 for a, b in itertools.pairwise(done))
        assert sum(1 for e in done if down_since < e < down_since + 7000) >= 3  # computed after the restart
    finally:
        p2.stop()


def windows(p: Platform, key: str, crn: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{p.url}/api/v1/serving/monitors/{crn}/windows", params={"limit": 1000},
                  headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json())
