"""The ``cdsw`` SDK outside a platform: CML's local development mode, persisted to ``$MLCATALOG_STORE``, and the
replica-mode errors. Every scenario runs in fresh Python processes (the SDK keeps per-process state)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import REPO

DEV_MODEL = "crn:cdp:ml:::workspace:dev/model"
DEV_BUILD = "crn:cdp:ml:::workspace:dev/model-build"
DEV_DEPLOYMENT = "crn:cdp:ml:::workspace:dev/model-deployment"
BANNER = "Not running in a model replica"

PREDICT = '''
import cdsw

@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("input", args)
    cdsw.track_metric("length", len(args["text"]))
    return {"label": "long" if len(args["text"]) > 3 else "short"}
'''


def run(script: str, store: Path, extra_env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env.update({"MLCATALOG_STORE": str(store), "PYTHONPATH": str(REPO), **(extra_env or {})})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=env,
                          timeout=60, cwd=cwd or store.parent)


def run_json(script: str, store: Path, extra_env: dict[str, str] | None = None) -> tuple[Any, str]:
    out = run(script, store, extra_env)
    assert out.returncode == 0, f"script failed:\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"  # fresh and not yet created: the SDK must create it


@pytest.fixture()
def predictions(store: Path) -> tuple[list[dict[str, Any]], str]:
    """Three dev-mode predictions made by one process: (returned values, that process's stderr)."""
    return run_json(PREDICT + '''
import json
out = [predict({"text": t}) for t in ("a", "abcd", "xyz")]
print(json.dumps(out))
''', store)


def test_dev_mode_predictions_have_dev_crns_and_banner_once(predictions: tuple[list[dict[str, Any]], str],
                                                            store: Path) -> None:
    out, stderr = predictions
    assert stderr.count(BANNER) == 1, stderr
    for crn in (DEV_MODEL, DEV_BUILD, DEV_DEPLOYMENT):
        assert crn in stderr
    assert [set(o) for o in out] == [{"prediction", "uuid", "model_deployment_crn"}] * 3
    assert [o["prediction"] for o in out] == [{"label": "short"}, {"label": "long"}, {"label": "short"}]
    assert {o["model_deployment_crn"] for o in out} == {DEV_DEPLOYMENT}
    assert len({o["uuid"] for o in out}) == 3 and all(len(o["uuid"]) == 36 for o in out)
    assert (store / "metrics.db").exists(), "dev-mode records must be persisted in $MLCATALOG_STORE"


def test_dev_crn_constants() -> None:
    import cdsw

    assert (cdsw.dev_model_crn, cdsw.dev_model_build_crn, cdsw.dev_model_deployment_crn) == (
        DEV_MODEL, DEV_BUILD, DEV_DEPLOYMENT)


def test_dev_records_survive_the_process(predictions: tuple[list[dict[str, Any]], str], store: Path) -> None:
    out, _ = predictions
    res, stderr = run_json('''
import json, cdsw
print(json.dumps(cdsw.read_metrics(model_deployment_crn=cdsw.dev_model_deployment_crn)))
''', store)
    assert stderr.count(BANNER) == 1
    records = res["metrics"]
    by_uuid = {r["predictionUuid"]: r for r in records}
    assert set(by_uuid) == {o["uuid"] for o in out}, "the predictions of the first process are not persisted"
    r = by_uuid[out[1]["uuid"]]
    assert r["metrics"] == {"input": {"text": "abcd"}, "length": 4}
    assert (r["modelDeploymentCrn"], r["modelBuildCrn"], r["modelCrn"]) == (DEV_DEPLOYMENT, DEV_BUILD, DEV_MODEL)
    assert isinstance(r["startTimeStampMs"], int) and r["endTimeStampMs"] >= r["startTimeStampMs"]
    # the same records by the other dev CRNs
    res2, _ = run_json('''
import json, cdsw
a = cdsw.read_metrics(model_crn=cdsw.dev_model_crn)["metrics"]
b = cdsw.read_metrics(model_build_crn=cdsw.dev_model_build_crn)["metrics"]
print(json.dumps([sorted(r["predictionUuid"] for r in a), sorted(r["predictionUuid"] for r in b)]))
''', store)
    assert res2 == [sorted(by_uuid)] * 2


def test_delayed_metrics_merge_into_a_dev_prediction(predictions: tuple[list[dict[str, Any]], str],
                                                     store: Path) -> None:
    out, _ = predictions
    target = out[0]["uuid"]
    res, _ = run_json(f'''
import json, cdsw
cdsw.track_delayed_metrics({{"actual_result": "long"}}, {target!r})
print(json.dumps(cdsw.read_metrics(model_deployment_crn=cdsw.dev_model_deployment_crn)))
''', store)
    rec = {r["predictionUuid"]: r for r in res["metrics"]}[target]
    assert rec["metrics"] == {"input": {"text": "a"}, "length": 1, "actual_result": "long"}


def test_delayed_metrics_for_an_unknown_uuid_is_an_error(predictions: tuple[list[dict[str, Any]], str],
                                                         store: Path) -> None:
    res, _ = run_json('''
import json, cdsw
try:
    cdsw.track_delayed_metrics({"actual_result": "x"}, "00000000-0000-4000-8000-000000000000")
except Exception as e:
    print(json.dumps({"type": type(e).__name__, "key_error": isinstance(e, KeyError), "message": str(e)}))
else:
    print(json.dumps(None))
''', store)
    assert res is not None, "track_delayed_metrics accepted an unknown prediction UUID"
    assert res["key_error"], res
    assert "00000000-0000-4000-8000-000000000000" in res["message"]


def test_aggregate_metrics_with_the_dev_crn(predictions: tuple[list[dict[str, Any]], str], store: Path) -> None:
    res, _ = run_json('''
import json, time, cdsw
now = int(time.time() * 1000)
cdsw.track_aggregate_metrics({"chisq_x2": 1.25, "chisq_p": 0.3}, now - 60000, now - 1000,
                             model_deployment_crn=cdsw.dev_model_deployment_crn)
print(json.dumps(cdsw.read_metrics(model_deployment_crn=cdsw.dev_model_deployment_crn,
                                   end_timestamp_ms=now + 1000)))
''', store)
    aggs = [r for r in res["metrics"] if r["predictionUuid"] is None]
    assert len(aggs) == 1, res
    a = aggs[0]
    assert a["metrics"] == {"chisq_x2": 1.25, "chisq_p": 0.3}
    assert a["modelDeploymentCrn"] == DEV_DEPLOYMENT
    assert a["endTimeStampMs"] - a["startTimeStampMs"] == 59000
    assert len([r for r in res["metrics"] if r["predictionUuid"]]) == 3


def test_track_metric_outside_a_prediction_in_dev_mode_does_not_raise(store: Path) -> None:
    res, stderr = run_json('''
import json, time, cdsw
cdsw.track_metric("auroc", 0.91)
print(json.dumps(cdsw.read_metrics(end_timestamp_ms=int(time.time() * 1000) + 1000)))
''', store)
    assert stderr.count(BANNER) == 1
    # CML's dev mode forgets it; we keep it, as a record of its own under the dev CRNs with no prediction UUID.
    assert [(r["predictionUuid"], r["metrics"], r["modelDeploymentCrn"]) for r in res["metrics"]] == [
        (None, {"auroc": 0.91}, DEV_DEPLOYMENT)]


def _in_replica(tmp_path: Path) -> str:
    """What serving/replica.py does before it imports a model: configure the SDK for its deployment."""
    return f'''
from serving import sdk
sdk.configure_replica("crn:cdp:ml:us-west-1:acct:workspace:ws/dep-1",
                      "crn:cdp:ml:us-west-1:acct:workspace:ws/build-1",
                      "crn:cdp:ml:us-west-1:acct:workspace:ws/model-1",
                      "sqlite:///{tmp_path / 'replica-metrics.db'}")
'''


def test_track_metric_outside_a_prediction_in_a_replica_raises(tmp_path: Path, store: Path) -> None:
    res, stderr = run_json(_in_replica(tmp_path) + PREDICT + '''
import json
from serving.sdk import MetricsError
out = predict({"text": "abcd"})
try:
    cdsw.track_metric("stray", 1)
except MetricsError as e:
    err = str(e)
else:
    err = None
import time
rec = cdsw.read_metrics(model_deployment_crn=out["model_deployment_crn"],
                        end_timestamp_ms=int(time.time() * 1000) + 1000)["metrics"]
print(json.dumps({"out": out, "err": err, "records": rec}))
''', store)
    assert res["err"] is not None, "track_metric outside a prediction must raise inside a replica"
    assert "model_metrics" in res["err"] and "outside" in res["err"]
    assert BANNER not in stderr, "a replica is not in local development mode"
    assert res["out"]["model_deployment_crn"] == "crn:cdp:ml:us-west-1:acct:workspace:ws/dep-1"
    assert [r["predictionUuid"] for r in res["records"]] == [res["out"]["uuid"]]
    assert res["records"][0]["modelBuildCrn"] == "crn:cdp:ml:us-west-1:acct:workspace:ws/build-1"
    assert not (store / "metrics.db").exists(), "a replica writes to its metrics_url, not the dev store"


def test_short_crn_form_in_a_replica_names_its_own_crns(tmp_path: Path, store: Path) -> None:
    res, _ = run_json(_in_replica(tmp_path) + PREDICT + '''
import json, time
from serving.sdk import MetricsError
out = predict({"text": "abcd"})
now = int(time.time() * 1000)
cdsw.track_aggregate_metrics({"psi": 0.1}, now - 1000, now, model_deployment_crn="/dep-1")
end = now + 1000
reads = {k: cdsw.read_metrics(end_timestamp_ms=end, **{k: v})["metrics"]
         for k, v in (("model_deployment_crn", "/dep-1"), ("model_build_crn", "/build-1"),
                      ("model_crn", "/model-1"))}
errors = []
for call in (lambda: cdsw.read_metrics(model_deployment_crn="/dep-2"),
             lambda: cdsw.read_metrics(model_deployment_crn="/build-1"),
             lambda: cdsw.read_metrics(model_deployment_crn="dep-1"),
             lambda: cdsw.track_aggregate_metrics({"psi": 0.2}, now - 1000, now, model_deployment_crn="/dep-2"),
             lambda: cdsw.track_aggregate_metrics({"psi": 0.2}, now - 1000, now, model_deployment_crn="ws/dep-1")):
    try:
        call()
        errors.append(None)
    except MetricsError as e:
        errors.append(str(e))
print(json.dumps({"out": out, "reads": reads, "errors": errors}))
''', store)
    dep = "crn:cdp:ml:us-west-1:acct:workspace:ws/dep-1"
    for key, records in res["reads"].items():
        by_uuid = {r["predictionUuid"]: r for r in records}
        assert len(records) == 2 and set(by_uuid) == {res["out"]["uuid"], None}, key
        assert by_uuid[None]["metrics"] == {"psi": 0.1} and by_uuid[None]["modelDeploymentCrn"] == dep
    wrong_deployment, build_as_deployment, not_a_crn, wrong_aggregate, not_a_crn_aggregate = res["errors"]
    assert wrong_deployment and "/dep-2" in wrong_deployment and "full CRN" in wrong_deployment
    assert build_as_deployment and "not this replica's deployment" in build_as_deployment
    assert not_a_crn and "not a CRN" in not_a_crn and "/<id>" in not_a_crn
    assert wrong_aggregate and "/dep-2" in wrong_aggregate
    assert not_a_crn_aggregate and "not a CRN" in not_a_crn_aggregate


def test_short_crn_form_of_the_dev_crns(predictions: tuple[list[dict[str, Any]], str], store: Path) -> None:
    res, _ = run_json('''
import json, time, cdsw
end = int(time.time() * 1000) + 1000
print(json.dumps([len(cdsw.read_metrics(end_timestamp_ms=end, **{k: v})["metrics"])
                  for k, v in (("model_deployment_crn", "/model-deployment"), ("model_build_crn", "/model-build"),
                               ("model_crn", "/model"))]))
''', store)
    assert res == [3, 3, 3]


@pytest.mark.parametrize("value", ["object()", "{1, 2}", "b'bytes'"])
def test_track_metric_with_a_non_json_value_raises(store: Path, value: str) -> None:
    res, _ = run_json(PREDICT.replace('cdsw.track_metric("length", len(args["text"]))',
                                      f'cdsw.track_metric("bad", {value})') + '''
import json
from serving.sdk import MetricsError
try:
    predict({"text": "abcd"})
except MetricsError as e:
    print(json.dumps({"raised": str(e)}))
else:
    print(json.dumps({"raised": None}))
try:
    cdsw.track_metric("bad", ''' + value + ''')
except MetricsError as e:
    print(json.dumps({"raised": str(e)}))
else:
    print(json.dumps({"raised": None}))
''', store)
    assert res["raised"] and "bad" in res["raised"]
    out = run('''
import cdsw
from serving.sdk import MetricsError
@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("bad", ''' + value + ''')
    return 1
try:
    predict({})
except MetricsError as e:
    print("raised:", e)
''', store)
    assert out.returncode == 0 and "raised:" in out.stdout and "bad" in out.stdout, out.stdout + out.stderr


def test_decorating_twice_does_not_double_wrap(store: Path) -> None:
    res, _ = run_json('''
import json, cdsw
@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("x", args["x"])
    return args["x"] * 2
again = cdsw.model_metrics(predict)
twice = cdsw.model_metrics(cdsw.model_metrics(predict))
out = twice({"x": 21})
import time
recs = cdsw.read_metrics(model_deployment_crn=cdsw.dev_model_deployment_crn,
                         end_timestamp_ms=int(time.time() * 1000) + 1000)["metrics"]
print(json.dumps({"same": again is predict and twice is predict, "out": out, "records": recs}))
''', store)
    assert res["same"]
    assert res["out"]["prediction"] == 42, "the prediction was wrapped twice"
    assert [r["predictionUuid"] for r in res["records"]] == [res["out"]["uuid"]]
    assert res["records"][0]["metrics"] == {"x": 21}
