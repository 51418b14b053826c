"""API keys (create once / list / revoke, hashed, never logged) and the gateway's behaviour over real HTTP:
no-auth deployments, 429 model.busy, 500 with an error id, 413 for chunked bodies, a health answer per replica,
Prometheus /metrics, and the SDK's call_model."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import wait_until
from tests.serving.conftest import (
    Platform,
    auth,
    deploy,
    get_deployment,
    health,
    make_project,
    start_platform,
)

SLOW = "Slow Model"
OPEN = "Open Model"
MODEL_PY = '''
import os
import time

SECRET_DETAIL = "internal-detail-" + "5f1c"


def predict(args):
    if args.get("boom"):
        raise RuntimeError("model exploded: " + SECRET_DETAIL)
    time.sleep(float(args.get("s", 0)))
    return {"echo": args.get("id"), "pid": os.getpid()}
'''
KEY_LINE = re.compile(r"^mlk_([0-9a-f]+)_(\S+)$")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: busy timeout 1 s (429 tests)."""
    with start_platform(tmp_path_factory.mktemp("gateway") / "store", {"MLCATALOG_BUSY_TIMEOUT": "1"}) as p:
        yield p


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("tiny") / "tiny-project", {"model.py": MODEL_PY}, [SLOW, OPEN])


@pytest.fixture(scope="module")
def admin_key(gw: Platform) -> str:
    out = gw.cli("api-keys", "create", "admin", "--role", "deployer", "--project", "*")
    return out.stdout.strip()


@pytest.fixture(scope="module")
def slow(gw: Platform, project: Path, admin_key: str) -> dict[str, Any]:
    return deploy(gw, admin_key, project, SLOW, "model.py", "predict")


@pytest.fixture(scope="module")
def open_dep(gw: Platform, project: Path, admin_key: str) -> dict[str, Any]:
    return deploy(gw, admin_key, project, OPEN, "model.py", "predict", "--replicas", "2", "--no-auth")


def call(p: Platform, key: str | None, access_key: str, request: Any, timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{p.url}/model", json={"accessKey": access_key, "request": request}, headers=auth(key),
                      timeout=timeout)


# -- API keys --------------------------------------------------------------------------------------------
def test_create_prints_the_key_once_and_list_never_shows_it(gw: Platform) -> None:
    out = gw.cli("api-keys", "create", "ci robot", "--role", "deployer", "--project", "*")
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout
    m = KEY_LINE.match(lines[0])
    assert m, lines[0]
    key_id, secret = m.groups()
    assert len(secret) >= 32
    assert key_id in out.stderr and secret not in out.stderr
    listing = gw.cli("api-keys", "list").stdout
    row = next(line for line in listing.splitlines() if line.startswith(key_id))
    assert "active" in row and "ci robot" in row
    assert secret not in listing and lines[0] not in listing
    # a second create gives another key; the first one is not shown again anywhere
    out2 = gw.cli("api-keys", "create", "other", "--role", "deployer", "--project", "*")
    assert lines[0] not in out2.stdout + out2.stderr


def test_the_secret_is_neither_logged_nor_stored(gw: Platform, slow: dict[str, Any], open_dep: dict[str, Any],
                                                 admin_key: str) -> None:
    key = gw.cli("api-keys", "create", "leak check", "--role", "deployer", "--project", "*").stdout.strip()
    secret = KEY_LINE.match(key).group(2)  # type: ignore[union-attr]
    # use it every way a client can: model call, admin API, metrics API, a wrong secret for the same id
    assert call(gw, key, slow["accessKey"], {"id": 1}).status_code == 200
    assert httpx.get(f"{gw.url}/api/v1/serving/deployments", headers=auth(key), timeout=30).status_code == 200
    assert httpx.get(f"{gw.url}/api/v1/metrics", params={"model_deployment_crn": slow["crn"]}, headers=auth(key),
                     timeout=30).status_code == 200
    assert call(gw, key[:-4] + "AAAA", slow["accessKey"], {"id": 1}).status_code == 403
    gw.cli("deployments", env={"MLCATALOG_API_KEY": key})
    time.sleep(0.5)  # let log handlers flush
    files = [gw.log, *gw.store.glob("platform.db*"), *gw.store.glob("replicas/*/*.log")]
    assert any(f.name == "platform.db" for f in files) and any(f.suffix == ".log" for f in files)
    for f in files:
        data = f.read_bytes()
        for needle in (key, secret, secret[:16]):
            assert needle.encode() not in data, f"the API key secret appears in {f}"
    admin_secret = KEY_LINE.match(admin_key).group(2)  # type: ignore[union-attr]
    for f in files:
        assert admin_secret.encode() not in f.read_bytes(), f"the admin key secret appears in {f}"


def test_revoked_key_is_refused_within_seconds(gw: Platform, slow: dict[str, Any]) -> None:
    key = gw.cli("api-keys", "create", "short lived", "--role", "deployer", "--project", "*").stdout.strip()
    key_id = KEY_LINE.match(key).group(1)  # type: ignore[union-attr]
    assert call(gw, key, slow["accessKey"], {"id": 1}).status_code == 200  # now cached as valid
    out = gw.cli("api-keys", "revoke", key_id)
    assert key_id in out.stdout
    revoked_at = time.monotonic()
    wait_until(lambda: call(gw, key, slow["accessKey"], {"id": 2}).status_code == 403, 3.0, 0.1,
               "403 for a revoked key")
    assert time.monotonic() - revoked_at <= 3.5
    r = call(gw, key, slow["accessKey"], {"id": 3})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert httpx.get(f"{gw.url}/api/v1/serving/deployments", headers=auth(key), timeout=30).status_code == 403
    row = next(line for line in gw.cli("api-keys", "list").stdout.splitlines() if line.startswith(key_id))
    assert "revoked" in row
    again = gw.cli("api-keys", "revoke", key_id, check=False)
    assert again.returncode != 0 and key_id in again.stderr


def test_expired_key_is_refused(gw: Platform, slow: dict[str, Any]) -> None:
    out = gw.cli("api-keys", "create", "expiring",
        "--role", "deployer", "--project", "*", "--expires-days", "0.00002")  # ~1.7 s
    key = out.stdout.strip()
    key_id = KEY_LINE.match(key).group(1)  # type: ignore[union-attr]
    wait_until(lambda: call(gw, key, slow["accessKey"], {"id": 1}).status_code == 403, 6, 0.2,
               "403 for an expired key")
    row = next(line for line in gw.cli("api-keys", "list").stdout.splitlines() if line.startswith(key_id))
    assert "expired" in row


# -- gateway -------------------------------------------------------------------------------------------
def test_no_auth_deployment_accepts_calls_without_a_key(gw: Platform, open_dep: dict[str, Any],
                                                        slow: dict[str, Any]) -> None:
    r = call(gw, None, open_dep["accessKey"], {"id": "anon"})
    assert r.status_code == 200, r.text
    assert r.json()["response"]["prediction"]["echo"] == "anon"
    # the undecorated function is wrapped by the replica: CML's shape with a UUID
    assert set(r.json()["response"]) == {"prediction", "uuid", "model_deployment_crn"}
    assert call(gw, None, slow["accessKey"], {"id": 1}).status_code == 401  # auth stays on for the other one


def test_no_free_replica_within_the_timeout_is_429(gw: Platform, slow: dict[str, Any], admin_key: str) -> None:
    results: dict[int, tuple[int, float, dict[str, Any]]] = {}

    def one(i: int) -> None:
        t = time.monotonic()
        r = call(gw, admin_key, slow["accessKey"], {"id": i, "s": 2.5})
        results[i] = (r.status_code, time.monotonic() - t, r.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(30)
    codes = sorted(c for c, _, _ in results.values())
    assert codes == [200, 429], results
    busy = next(v for v in results.values() if v[0] == 429)
    assert busy[2]["code"] == "model.busy" and busy[2]["success"] is False
    assert busy[1] < 2.4, f"429 should come after the 1 s busy timeout, came after {busy[1]:.1f}s"
    ok = next(v for v in results.values() if v[0] == 200)
    assert ok[2]["response"]["prediction"]["echo"] in (0, 1)


def test_exception_in_the_model_is_500_with_an_error_id(gw: Platform, slow: dict[str, Any],
                                                        admin_key: str) -> None:
    r = call(gw, admin_key, slow["accessKey"], {"boom": True})
    assert r.status_code == 500
    body = r.json()
    assert body["success"] is False and body["code"] == "model_error" and body["error_id"]
    for leak in ("Traceback", "RuntimeError", "internal-detail", "model.py", "exploded"):
        assert leak not in r.text
    # the operator finds the stack trace by the error id in the replica's log
    wait_until(lambda: body["error_id"] in b"".join(
        f.read_bytes() for f in gw.store.glob("replicas/*/*.log")).decode(errors="replace"), 5,
        what="the error id in the replica log")
    logs = b"".join(f.read_bytes() for f in gw.store.glob("replicas/*/*.log")).decode(errors="replace")
    tail = logs[logs.index(body["error_id"]):]
    assert "Traceback" in tail and "internal-detail-5f1c" in tail
    # the replica survives its model's exception
    assert call(gw, admin_key, slow["accessKey"], {"id": 9}).status_code == 200


def test_chunked_body_over_5_mb_is_413(gw: Platform, slow: dict[str, Any], admin_key: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"accessKey": "' + slow["accessKey"].encode() + b'", "request": {"x": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    r = httpx.post(f"{gw.url}/model", content=chunks(), headers=auth(admin_key), timeout=30)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    r = httpx.post(f"{gw.url}/model", content=b'{"accessKey": ', headers=auth(admin_key), timeout=30)
    assert r.status_code == 400 and r.json()["code"] == "bad_json"


def test_health_per_replica(gw: Platform, open_dep: dict[str, Any], admin_key: str) -> None:
    d = get_deployment(gw, admin_key, open_dep["crn"])
    assert len(d["replica_status"]) == 2
    seen = set()
    for rs in d["replica_status"]:
        assert rs["alive"] is True and set(rs) == {"replica_id", "alive", "pid", "restarts"}
        h = health(gw, open_dep["crn"], rs["replica_id"])
        assert h["status"] == "ok" and h["replica"] == rs["replica_id"] and h["pid"] == rs["pid"]
        assert h["deployment_crn"] == open_dep["crn"]
        # every request was waited for, by polling or asleep; the default polling budget reached the replica
        assert h["poll"]["max_us"] == 1000 and h["poll"]["polled"] + h["poll"]["slept"] >= h["served"]
        seen.add(h["replica"])
    assert len(seen) == 2


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_prometheus_metrics_per_deployment(gw: Platform, slow: dict[str, Any], admin_key: str) -> None:
    ak = slow["accessKey"]
    assert call(gw, admin_key, ak, {"id": 1}).status_code == 200
    assert call(gw, None, ak, {"id": 1}).status_code == 401
    assert call(gw, "mlk_0_bad", ak, {"id": 1}).status_code == 403
    assert call(gw, admin_key, ak, {"boom": 1}).status_code == 500
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(call(gw, admin_key, ak, {"s": 1.6}).status_code))
               for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(30)
    assert sorted(codes) == [200, 429]
    r = httpx.get(f"{gw.url}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    requests = _samples(r.text, "mlcatalog_model_requests_total")
    crn = slow["crn"]
    for code in ("200", "401", "403", "429", "500"):
        assert requests.get((("code", code), ("deployment", crn)), 0) >= 1, f"no {code} counted: {requests}"
    errors = _samples(r.text, "mlcatalog_model_errors_total")
    assert errors.get((("deployment", crn), ("kind", "busy")), 0) >= 1, errors
    assert errors.get((("deployment", crn), ("kind", "model_exception")), 0) >= 1, errors
    count = _samples(r.text, "mlcatalog_model_request_seconds_count")
    assert count.get((("deployment", crn),), 0) >= 2, count
    buckets = _samples(r.text, "mlcatalog_model_request_seconds_bucket")
    mine = {dict(k)["le"]: v for k, v in buckets.items() if dict(k)["deployment"] == crn}
    assert mine and mine["+Inf"] == count[(("deployment", crn),)]
    assert mine["1.0"] < mine["+Inf"], "the 1.6 s call should land above the 1 s bucket"


def test_call_model_with_the_sdk_matches_a_raw_post(gw: Platform, slow: dict[str, Any], admin_key: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    reread_sdk_settings: Callable[[], None]) -> None:
    import cdsw

    monkeypatch.setenv("MLCATALOG_URL", gw.url)
    monkeypatch.delenv("MLCATALOG_API_KEY", raising=False)
    reread_sdk_settings()
    sdk = cdsw.call_model(slow["accessKey"], {"id": "sdk"}, api_key=admin_key)
    raw = call(gw, admin_key, slow["accessKey"], {"id": "sdk"}).json()
    assert set(sdk) == set(raw) and sdk["success"] is True
    assert set(sdk["response"]) == set(raw["response"]) == {"prediction", "uuid", "model_deployment_crn"}
    assert sdk["response"]["prediction"]["echo"] == raw["response"]["prediction"]["echo"] == "sdk"
    assert sdk["response"]["model_deployment_crn"] == raw["response"]["model_deployment_crn"] == slow["crn"]
    assert sdk["response"]["uuid"] != raw["response"]["uuid"]
    # the key can also come from the environment, as for the other SDK calls
    monkeypatch.setenv("MLCATALOG_API_KEY", admin_key)
    reread_sdk_settings()
    assert cdsw.call_model(slow["accessKey"], {"id": "env"})["response"]["prediction"]["echo"] == "env"
    json.dumps(sdk)  # plain JSON types


def test_sdk_metrics_calls_against_the_platform(gw: Platform, slow: dict[str, Any], admin_key: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                reread_sdk_settings: Callable[[], None]) -> None:
    """Outside a replica with a platform key: delayed metrics merge by UUID, an unknown UUID is an error,
    aggregates accept CML's bare ``/<uuid>`` deployment CRN form."""
    import uuid

    import cdsw

    monkeypatch.setenv("MLCATALOG_URL", gw.url)
    monkeypatch.setenv("MLCATALOG_API_KEY", admin_key)
    reread_sdk_settings()
    t0 = int(time.time() * 1000)
    answer = cdsw.call_model(slow["accessKey"], {"id": "delayed"})
    u = answer["response"]["uuid"]
    cdsw.track_delayed_metrics({"ground_truth": "yes"}, u)
    unknown = str(uuid.uuid4())
    with pytest.raises(KeyError) as exc:
        cdsw.track_delayed_metrics({"ground_truth": "no"}, unknown)
    assert unknown in str(exc.value)
    now = int(time.time() * 1000)
    cdsw.track_aggregate_metrics({"val_count": 125}, t0, now, model_deployment_crn="/" + slow["crn"].rsplit("/")[-1])
    recs = cdsw.read_metrics(model_deployment_crn=slow["crn"], start_timestamp_ms=t0, end_timestamp_ms=now + 1000)
    by_uuid = {r["predictionUuid"]: r for r in recs["metrics"]}
    assert by_uuid[u]["metrics"] == {"ground_truth": "yes"}
    assert by_uuid[None]["metrics"] == {"val_count": 125}
    assert by_uuid[None]["modelDeploymentCrn"] == slow["crn"]
