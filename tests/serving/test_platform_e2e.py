"""Deploy the wine model on a real platform and use it as a CML user would: predict, metrics, auth, lineage."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.crn import parse_crn
from serving.examples.wine.data import feature_string, generate
from tests.serving.conftest import Platform

MODEL = "Predict w/ Monitoring & Lineage"


@pytest.fixture(scope="module")
def api_key(platform: Platform) -> str:
    out = platform.cli("api-keys", "create", "e2e", "--role", "deployer", "--project", "*")
    return out.stdout.strip()


@pytest.fixture(scope="module")
def deployment(platform: Platform, wine_project: Path, api_key: str) -> dict[str, Any]:
    out = platform.cli("deploy", "--project-dir", str(wine_project), "--model", MODEL, "--file", "model.py",
                       "--function", "predict", "--replicas", "2", "--json", env={"MLCATALOG_API_KEY": api_key})
    return dict(json.loads(out.stdout))


def call(platform: Platform, key: str | None, access_key: str, request: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{platform.url}/model", json={"accessKey": access_key, "request": request}, headers=headers,
                      timeout=30)


def test_deploy_returns_crns_and_serves_predictions(platform: Platform, deployment: dict[str, Any],
                                                    api_key: str) -> None:
    assert set(deployment) == {"crn", "modelCrn", "buildCrn", "accessKey", "accessKeyHint", "role", "trafficPercent",
                               "endpoint", "guid"}
    assert deployment["role"] == "live" and deployment["trafficPercent"] == 100
    assert deployment["accessKey"].startswith(deployment["accessKeyHint"])
    crns = [parse_crn(deployment[k]) for k in ("crn", "modelCrn", "buildCrn")]
    assert {c.workspace for c in crns} == {"ws"} and {c.region for c in crns} == {"us-west-1"}
    assert deployment["endpoint"] == f"{platform.url}/model"
    x, _ = generate(1, seed=3)[0]
    resp = call(platform, api_key, deployment["accessKey"], {"feature": feature_string(x)})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True and body["ReplicaID"]
    assert body["response"]["prediction"]["result"] in ("Excellent", "Poor")
    assert body["response"]["model_deployment_crn"] == deployment["crn"]
    assert len(body["response"]["uuid"]) == 36


def test_errors_are_clear(platform: Platform, deployment: dict[str, Any], api_key: str) -> None:
    ak = deployment["accessKey"]
    r = httpx.post(f"{platform.url}/model", content=b"{not json", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 400 and r.json()["code"] == "bad_json"
    assert call(platform, api_key, "0" * 32, {"feature": "1"}).status_code == 404
    assert call(platform, None, ak, {"feature": "1"}).status_code == 401
    assert call(platform, "mlk_nope_nope", ak, {"feature": "1"}).status_code == 403
    big = {"feature": "x" * (5 * 1024 * 1024 + 10)}
    assert call(platform, api_key, ak, big).status_code == 413
    r = call(platform, api_key, ak, {"feature": "1;2;3"})  # the model raises ValueError
    assert r.status_code == 500
    body = r.json()
    assert body["error_id"] and "Traceback" not in r.text and "ValueError" not in r.text


def test_metrics_round_trip_with_the_cdsw_sdk(platform: Platform, deployment: dict[str, Any], api_key: str,
                                              tmp_path: Path) -> None:
    t0 = int(time.time() * 1000)
    uuids = []
    for x, _ in generate(5, seed=11):
        r = call(platform, api_key, deployment["accessKey"], {"feature": feature_string(x)})
        uuids.append(r.json()["response"]["uuid"])
    # A CML analysis script, unchanged: import cdsw, read, delayed and aggregate metrics, json_normalize.
    script = tmp_path / "analysis.py"
    script.write_text(f'''
import json, time
import cdsw
import pandas as pd
crn = {deployment["crn"]!r}
res = cdsw.read_metrics(model_deployment_crn=crn, start_timestamp_ms={t0}, end_timestamp_ms=int(time.time()*1000)+1)
df = pd.json_normalize(res["metrics"])
cdsw.track_delayed_metrics({{"actual_result": "Poor"}}, df["predictionUuid"].iloc[0])
now = int(time.time() * 1000)
cdsw.track_aggregate_metrics({{"chisq_x2": 1.5, "chisq_p": 0.2}}, {t0}, now, model_deployment_crn=crn)
res2 = cdsw.read_metrics(model_crn={deployment["modelCrn"]!r}, start_timestamp_ms={t0})
print(json.dumps({{"n": len(df), "cols": sorted(df.columns), "records": res2["metrics"]}}))
''')
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**platform.env, "MLCATALOG_API_KEY": api_key})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["n"] == 5
    assert {"metrics.Alcohol", "metrics.prediction", "predictionUuid", "startTimeStampMs"} <= set(data["cols"])
    by_uuid = {r["predictionUuid"]: r for r in data["records"]}
    assert set(uuids) <= set(by_uuid)
    first = by_uuid[uuids[0]]
    assert first["metrics"]["actual_result"] == "Poor" and "prediction" in first["metrics"]
    assert first["modelBuildCrn"] == deployment["buildCrn"] and first["modelDeploymentCrn"] == deployment["crn"]
    aggregates = [r for r in data["records"] if r["predictionUuid"] is None]
    assert aggregates and aggregates[-1]["metrics"] == {"chisq_x2": 1.5, "chisq_p": 0.2}


def test_short_crn_form_against_the_platform(platform: Platform, deployment: dict[str, Any], api_key: str,
                                            tmp_path: Path) -> None:
    x, _ = generate(1, seed=5)[0]
    assert call(platform, api_key, deployment["accessKey"], {"feature": feature_string(x)}).status_code == 200
    short = {k: "/" + str(parse_crn(deployment[k]).object_id) for k in ("crn", "buildCrn", "modelCrn")}
    script = tmp_path / "short.py"
    script.write_text(f'''
import json, time
import cdsw
from serving.sdk import MetricsError
full, short = {deployment!r}, {short!r}
now = int(time.time() * 1000)
cdsw.track_aggregate_metrics({{"short_form": 1}}, now - 1000, now, model_deployment_crn=short["crn"])
end = now + 1000
counts = {{}}
for arg, key in (("model_deployment_crn", "crn"), ("model_build_crn", "buildCrn"), ("model_crn", "modelCrn")):
    by_full = cdsw.read_metrics(end_timestamp_ms=end, **{{arg: full[key]}})["metrics"]
    by_short = cdsw.read_metrics(end_timestamp_ms=end, **{{arg: short[key]}})["metrics"]
    counts[arg] = [len(by_full), by_full == by_short, sum(r["metrics"] == {{"short_form": 1}} for r in by_short)]
try:
    cdsw.read_metrics(model_deployment_crn="/00000000-0000-4000-8000-000000000000")
    unknown = None
except MetricsError as e:
    unknown = str(e)
print(json.dumps({{"counts": counts, "unknown": unknown}}))
''')
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**platform.env, "MLCATALOG_API_KEY": api_key})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for arg, (n, same, aggregates) in data["counts"].items():
        assert n >= 2 and same and aggregates == 1, arg
    assert data["unknown"] and "404" in data["unknown"] and "no deployment" in data["unknown"]
    headers = {"Authorization": f"Bearer {api_key}"}
    r = httpx.get(f"{platform.url}/api/v1/metrics", params={"model_deployment_crn": "not-a-crn"}, headers=headers)
    assert r.status_code == 400 and "not a CRN" in r.text
    r = httpx.post(f"{platform.url}/api/v1/metrics/aggregate", headers=headers,
                   json={"metrics": {"a": 1}, "start_timestamp_ms": 0, "end_timestamp_ms": 1,
                         "model_deployment_crn": "/00000000-0000-4000-8000-000000000000"})
    assert r.status_code == 404 and "no deployment" in r.text


def test_catalog_shows_the_deployment_with_lineage(platform: Platform, deployment: dict[str, Any],
                                                   api_key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not platform.cli("outbox", "--json").stdout.strip("[]\n "):
            break
        time.sleep(0.2)
    headers = {"Authorization": f"Bearer {api_key}"}
    d = httpx.get(f"{platform.url}/api/v1/deployments/{deployment['crn']}", headers=headers, timeout=30).json()
    assert d["status"] == "deployed" and d["build_crn"] == deployment["buildCrn"]
    # the guid the deploy command gave (the catalog answered at once) is the catalog entity's; listings show it
    assert deployment["guid"] == d["guid"]
    listing = {x["crn"]: x for x in json.loads(platform.cli("deployments", "--json",
                                                            env={"MLCATALOG_API_KEY": api_key}).stdout)}
    assert listing[deployment["crn"]]["catalog_guid"] == d["guid"]
    text = platform.cli("deployments", env={"MLCATALOG_API_KEY": api_key}).stdout
    assert f"{deployment['crn']}  guid {d['guid']}" in text
    assert d["model_crn"] == deployment["modelCrn"] and d["endpoint_url"] == deployment["endpoint"]
    assert (d["replicas"], d["cpu_millicores"], d["memory_mb"]) == (2, 1000, 2048)  # --replicas 2, the defaults
    assert d["deployed_time"] >= d["create_time"] > 0
    lin = httpx.get(f"{platform.url}/api/v1/deployments/{deployment['crn']}/lineage", headers=headers,
                    timeout=30).json()
    qns = json.dumps(lin["tree"])
    assert "default.wineds_ext@cm" in qns and "default.wineds_ext_nolabel@cm" in qns


def test_stop_records_the_status(platform: Platform, wine_project: Path, api_key: str,
                                 deployment: dict[str, Any]) -> None:
    out = platform.cli("deploy", "--project-dir", str(wine_project), "--model", MODEL, "--file", "model.py",
                       "--function", "predict", "--json", env={"MLCATALOG_API_KEY": api_key})
    dep = json.loads(out.stdout)
    assert dep["accessKey"] is None  # a new build of the model: the model's key stays the one its first deploy gave
    x, _ = generate(1, seed=4)[0]
    served = call(platform, api_key, deployment["accessKey"], {"feature": feature_string(x)})
    assert served.json()["response"]["model_deployment_crn"] == dep["crn"]  # the model's calls moved to it
    platform.cli("stop", dep["crn"], env={"MLCATALOG_API_KEY": api_key})
    assert call(platform, api_key, deployment["accessKey"], {"feature": "1"}).status_code == 404
    listing = platform.cli("deployments", "--json", env={"MLCATALOG_API_KEY": api_key}).stdout
    statuses = {d["crn"]: d["status"] for d in json.loads(listing)}
    assert statuses[dep["crn"]] == "stopped"
