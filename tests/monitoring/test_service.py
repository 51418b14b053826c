"""The monitor service in-process, on a real SQLite metrics store and platform state: references, windows
computed once (also across a restart and a crash), catch-up, stopped deployments, outbox, webhook alerts."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from catalog import Conflict, DatasetRef, InvalidInput, NotFound
from serving.examples.wine.data import FEATURES, STATS, generate
from serving.metrics import MetricRecord, MetricsStore, open_metrics_store, sqlite_url
from serving.monitoring import alerts
from serving.monitoring.config import Thresholds
from serving.monitoring.ledger import Ledger
from serving.monitoring.service import DeploymentFacts, MonitorAdd, MonitorService
from serving.monitoring.sources import ReferenceRequest
from serving.monitoring.worker import InProcessComputer
from serving.platform.outbox import entries
from serving.platform.state import StateDb
from tests.servers import serving_in_thread

M = 60_000
CRN = "crn:cdp:ml:us-west-1:acct:workspace:ws/0d6c5b7e-0000-4000-8000-000000000001"
BUILD = "crn:cdp:ml:us-west-1:acct:workspace:ws/build-1"
MODEL = "crn:cdp:ml:us-west-1:acct:workspace:ws/model-1"
T0 = 1_796_119_200_000  # 2026-12-01T10:00Z, on the 30-minute grid
SECRET = "webhook-secret-0123456789"


@dataclass
class World:
    state: StateDb
    store: MetricsStore
    service: MonitorService
    dir: Path
    scheduled: list[tuple[str, int | None]]


def _service(state: StateDb, store: MetricsStore, scheduled: list[tuple[str, int | None]]) -> MonitorService:
    def deployment(crn: str) -> DeploymentFacts | None:
        row = state.conn().execute("SELECT status, build_crn, model_crn FROM deployment WHERE crn = ?",
                                   (crn,)).fetchone()
        return None if row is None else DeploymentFacts(status=row[0], build_crn=row[1], model_crn=row[2])

    def lineage(build_crn: str) -> list[DatasetRef]:
        return [DatasetRef(type_name="hive_table", qualified_name="default.wineds_ext@cm", name="wineds_ext")]

    s = MonitorService(Ledger(state), store, InProcessComputer(store), deployment=deployment, lineage=lineage,
                       sampler=None, webhook_secret=SECRET, lag_ms=0)
    s.on_schedule = lambda crn, every: scheduled.append((crn, every))
    return s


def state_with_deployment(path: Path) -> StateDb:
    """A platform state holding the deployment CRN, deployed (as ``mlcatalog deploy`` leaves it)."""
    state = StateDb(path)
    with state.tx() as c:
        c.execute("INSERT INTO deployment (crn, name, model_name, model_crn, build_crn, project_crn, project_dir, "
                  "commit_sha, file, function, access_key_hash, auth_enabled, replicas, cpu_millicores, memory_mb, "
                  "status, create_time_ms, deployed_time_ms, updated_ms) VALUES (?, 'wine', 'wine', ?, ?, 'p', '/p', "
                  "'c', 'model.py', 'predict', 'k', 1, 1, 1000, 2048, 'deployed', 0, 0, 0)", (CRN, MODEL, BUILD))
    return state


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    state = state_with_deployment(tmp_path / "platform.db")
    store = open_metrics_store(sqlite_url(tmp_path / "metrics.db"))
    scheduled: list[tuple[str, int | None]] = []
    yield World(state, store, _service(state, store, scheduled), tmp_path, scheduled)
    store.close()
    state.close()


def wine_rows(n: int, seed: int, *, shift: float = 0.0, excellent: float | None = None) -> list[dict[str, Any]]:
    """Prediction metrics like the wine model's; ``shift`` moves every feature by that many standard deviations,
    ``excellent`` forces that share of "Excellent" predictions."""
    rng = random.Random(seed)
    rows = []
    for x, label in generate(n, seed):
        m: dict[str, Any] = {f: v + shift * sd for f, v, (_, sd, _, _) in zip(FEATURES, x, STATS, strict=True)}
        m["prediction"] = label if excellent is None else ("Excellent" if rng.random() < excellent else "Poor")
        rows.append(m)
    return rows


def write(store: MetricsStore, rows: list[dict[str, Any]], start: int, end: int, prefix: str) -> list[str]:
    step = max(1, (end - start) // max(1, len(rows)))
    uuids = [f"{prefix}-{i:07d}" for i in range(len(rows))]
    store.write_predictions(MetricRecord(model_deployment_crn=CRN, model_build_crn=BUILD, model_crn=MODEL,
                                         prediction_uuid=u, start_ms=start + i * step, end_ms=start + i * step + 3,
                                         metrics=m) for i, (u, m) in enumerate(zip(uuids, rows, strict=True)))
    return uuids


def reference_csv(path: Path, n: int = 2000, seed: int = 1) -> Path:
    with path.open("w") as f:
        f.write(",".join(c.lower() for c in FEATURES) + ",quality\n")  # HiveServer2-style lower-case names
        for x, label in generate(n, seed):
            f.write(",".join(f"{v:g}" for v in x) + f",{label}\n")
    return path


def add(w: World, **kw: Any) -> Any:
    ref = kw.pop("reference", None) or ReferenceRequest(file=str(reference_csv(w.dir / "ref.csv")),
                                                        column_map={"prediction": "quality"})
    info = w.service.add(MonitorAdd(deployment_crn=CRN, every_ms=30 * M, reference=ref, **kw))
    with w.state.tx() as c:  # as if added at T0: the first scheduled window is [T0, T0 + 30m)
        c.execute("UPDATE monitor SET created_ms = ?", (T0,))
    return info


def aggregates(store: MetricsStore) -> list[MetricRecord]:
    return [r for r in store.read(model_deployment_crn=CRN, start_ms=0) if r.is_aggregate]


def test_add_summarises_a_reference_file_matching_columns_case_insensitively(world: World) -> None:
    write(world.store, wine_rows(50, 3), T0 - 60 * M, T0 - 30 * M, "early")  # tracked metrics are learned
    info = add(world)
    assert info.reference.source.kind == "file" and len(info.reference.source.sha256 or "") == 64
    assert info.reference.numeric == {f: f.lower() for f in FEATURES}
    assert info.reference.categorical == {"prediction": "quality"}
    assert info.reference.rows["Alcohol"] == 2000 and info.status == "active"
    assert world.scheduled == [(CRN, 30 * M)]
    with pytest.raises(Conflict, match="already has a monitor"):
        add(world)


def test_bad_references_are_one_line_errors_and_store_nothing(world: World) -> None:
    write(world.store, wine_rows(50, 3), T0 - 60 * M, T0 - 30 * M, "early")
    other = world.dir / "other.csv"
    other.write_text("colour,weight\nred,1\nwhite,2\n")
    cases: list[tuple[ReferenceRequest, str]] = [
        (ReferenceRequest(file=str(other)), "none of the tracked metrics"),
        (ReferenceRequest(file=str(world.dir / "missing.csv")), "does not exist"),
        (ReferenceRequest(file=str(other), window=(0, 1)), "give one reference"),
        (ReferenceRequest(file=str(reference_csv(world.dir / "r.csv")), column_map={"prediction": "nope"}),
         "no column 'nope'"),
        (ReferenceRequest(table="default.elsewhere@cm"), "not a table of the build's lineage"),
        (ReferenceRequest(), "no HiveServer2 is configured"),
        (ReferenceRequest(window=(T0, T0 + M)), "no predictions in that window"),
    ]
    for ref, message in cases:
        with pytest.raises(InvalidInput, match=message) as e:
            add(world, reference=ref)
        assert "\n" not in str(e.value)
        assert world.service.ledger.get(CRN) is None and world.scheduled == []
    with pytest.raises(NotFound):
        world.service.add(MonitorAdd(deployment_crn=CRN + "x", every_ms=30 * M))
    with pytest.raises(InvalidInput, match="every_ms"):
        world.service.add(MonitorAdd(deployment_crn=CRN, every_ms=5))


def test_same_distribution_is_ok_and_figures_land_in_the_metrics_store(world: World) -> None:
    add(world)
    write(world.store, wine_rows(600, 11), T0, T0 + 30 * M, "w1")
    [result] = world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert (result.start_ms, result.end_ms, result.predictions) == (T0, T0 + 30 * M, 600)
    assert result.status == "ok" and result.drifted_columns == []
    [agg] = aggregates(world.store)
    assert (agg.start_ms, agg.end_ms, agg.model_build_crn) == (T0, T0 + 30 * M, BUILD)
    m = agg.metrics
    assert m["drift.status"] == "ok" and m["monitor.predictions"] == 600
    for f in FEATURES:
        assert {f"drift.ks.{f}.stat", f"drift.ks.{f}.p_value", f"drift.psi.{f}", f"drift.wasserstein.{f}"} <= set(m)
    assert m["chisq_x2"] == m["drift.chisq.prediction.stat"] and m["chisq_p"] == m["drift.chisq.prediction.p_value"]
    # the ledger keeps every test's figures and the prediction's distribution, for the dashboard
    [window] = world.service.ledger.windows(CRN)
    assert window.result is not None
    kept = {(t["test"], t["column"]): t for t in window.result["tests"]}
    assert kept.keys() == {(t.test, t.column) for t in result.tests}
    assert all(kept[(t.test, t.column)]["statistic"] == t.statistic and kept[(t.test, t.column)]["threshold"]
               == t.threshold for t in result.tests)
    dist = window.result["prediction_distribution"]
    assert dist["kind"] == "categorical" and sum(dist["observed"]) == 600 == dist["n"]
    assert sum(dist["expected"]) == pytest.approx(600) and set(dist["categories"]) == {"Excellent", "Poor"}


def test_drift_flips_the_status_publishes_it_and_alerts_once(world: World) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    hook = FastAPI()

    @hook.post("/hook")
    async def receive(request: Request) -> dict[str, bool]:
        received.append((await request.body(), dict(request.headers)))
        return {"ok": True}

    with serving_in_thread(hook) as server:
        add(world, webhook_url=f"{server.url}/hook")
        write(world.store, wine_rows(600, 11), T0, T0 + 30 * M, "ok")
        write(world.store, wine_rows(600, 12, shift=1.0, excellent=0.9), T0 + 30 * M, T0 + 60 * M, "drift")
        write(world.store, wine_rows(600, 14), T0 + 60 * M, T0 + 90 * M, "back")
        results = world.service.catch_up(CRN, now_ms=T0 + 90 * M + 1)
    assert [r.status for r in results] == ["ok", "drifting", "ok"], [r.drifted_columns for r in results]
    assert "prediction" in results[1].drifted_columns and "Alcohol" in results[1].drifted_columns
    drift = [e.payload for e in entries(world.state) if e.kind == "drift"]
    assert [(d["status"], d["window_end_ms"]) for d in drift] == [
        ("ok", T0 + 30 * M), ("drifting", T0 + 60 * M), ("ok", T0 + 90 * M)]
    assert len(received) == 2  # into drifting, and out of it; not for the first "ok"
    import orjson

    events = [orjson.loads(body) for body, _ in received]
    assert [(e["previous_status"], e["status"]) for e in events] == [("ok", "drifting"), ("drifting", "ok")]
    for body, headers in received:
        assert alerts.verify(body, SECRET, headers["x-mlcatalog-signature"])
    m = world.service.ledger.get(CRN)
    assert m is not None and m.drift_status == "ok" and m.last_end_ms == T0 + 90 * M


def test_windows_are_computed_once_across_a_restart_and_a_crash(world: World) -> None:
    add(world)
    write(world.store, wine_rows(300, 11), T0, T0 + 60 * M, "w")
    assert len(world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)) == 1
    restarted = _service(StateDb(world.dir / "platform.db"), world.store, [])
    assert restarted.catch_up(CRN, now_ms=T0 + 30 * M + 5) == []
    # a crash after the results were written but before the window was marked done
    second = (T0 + 30 * M, T0 + 60 * M)
    assert restarted.ledger.claim(CRN, *second)
    m = restarted.ledger.get(CRN)
    assert m is not None
    result = restarted.computer.compute(CRN, m.config, m.reference, *second)
    world.store.write_aggregate(CRN, *second, result.metrics())
    with restarted.ledger.state.tx() as c:
        c.execute("UPDATE monitor_window SET claimed_ms = 0 WHERE end_ms = ?", (second[1],))
    again = _service(StateDb(world.dir / "platform.db"), world.store, [])
    assert [r.end_ms for r in again.catch_up(CRN, now_ms=T0 + 60 * M + 1)] == [second[1]]
    assert sorted(a.end_ms for a in aggregates(world.store)) == [T0 + 30 * M, T0 + 60 * M]  # no duplicate
    assert again.catch_up(CRN, now_ms=T0 + 60 * M + 2) == []


def test_catch_up_after_downtime_is_bounded(world: World) -> None:
    add(world, max_catch_up=3)
    with world.state.tx() as c:
        c.execute("UPDATE monitor SET created_ms = ?", (T0 - 1,))
    results = world.service.catch_up(CRN, now_ms=T0 + 10 * 30 * M + 1)
    assert [r.end_ms for r in results] == [T0 + k * 30 * M for k in (8, 9, 10)]
    assert all(r.status == "unknown" for r in results)  # no predictions: nothing to test
    assert world.service.catch_up(CRN, now_ms=T0 + 10 * 30 * M + 2) == []


def test_too_little_data_gives_reasons_not_numbers(world: World) -> None:
    add(world)
    write(world.store, wine_rows(3, 11), T0, T0 + 30 * M, "tiny")
    [result] = world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert result.status == "unknown" and result.drifted_share is None
    m = aggregates(world.store)[0].metrics
    assert m["drift.ks.Alcohol.reason"] == "n=3 < 30" and "drift.ks.Alcohol.stat" not in m


def test_accuracy_from_delayed_ground_truth(world: World) -> None:
    add(world, min_accuracy=0.9)
    rows = wine_rows(400, 11)
    uuids = write(world.store, rows, T0, T0 + 30 * M, "acc")
    for u, r in list(zip(uuids, rows, strict=True))[:200]:
        world.store.merge_delayed(u, {"actual_result": r["prediction"] if int(u[-3:]) % 4 else "Poor"})
    [result] = world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert result.classification is not None and result.classification.n == 200
    expected = sum(1 for u, r in list(zip(uuids, rows, strict=True))[:200]
                   if int(u[-3:]) % 4 or r["prediction"] == "Poor") / 200
    assert result.classification.accuracy == pytest.approx(expected, abs=1e-12)
    m = aggregates(world.store)[0].metrics
    assert m["accuracy"] == result.classification.accuracy and m["accuracy.labelled"] == 200
    assert result.status == "warning"  # accuracy under --min-accuracy 0.9


def test_reference_window_and_expected_shares(world: World) -> None:
    write(world.store, wine_rows(500, 11), T0 - 60 * M, T0 - 30 * M, "ref")
    info = add(world, reference=ReferenceRequest(window=(T0 - 60 * M, T0 - 30 * M),
                                                 expected={"Excellent": 0.5, "Poor": 0.5}))
    assert info.reference.source.kind == "window" and info.reference.source.sample_rows == 500
    assert info.reference.categorical == {"prediction": "(expected)"}
    write(world.store, wine_rows(500, 12, excellent=0.95), T0, T0 + 30 * M, "now")
    [result] = world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert result.status == "drifting" and "prediction" in result.drifted_columns


def test_a_monitor_of_a_stopped_deployment_stops(world: World) -> None:
    add(world)
    with world.state.tx() as c:
        c.execute("UPDATE deployment SET status = 'stopped'")
    assert world.service.catch_up(CRN, now_ms=T0 + 90 * M) == []
    info = world.service.get(CRN)
    assert (info.status, info.stopped_reason) == ("stopped", "deployment stopped")
    assert world.scheduled[-1] == (CRN, None)


def test_run_a_given_window_and_remove(world: World) -> None:
    add(world, thresholds=Thresholds(wasserstein=0.5))
    write(world.store, wine_rows(300, 11), T0, T0 + 30 * M, "w")
    [r] = world.service.run(CRN, (T0, T0 + 30 * M))
    assert r.predictions == 300
    with pytest.raises(Conflict, match="already done"):
        world.service.run(CRN, (T0, T0 + 30 * M))
    world.service.remove(CRN)
    assert world.service.monitors() == [] and world.scheduled[-1] == (CRN, None)
    assert len(aggregates(world.store)) == 1  # results stay
    with pytest.raises(NotFound):
        world.service.run(CRN)


def test_now_is_used_when_not_given(world: World) -> None:
    add(world)
    now = int(time.time() * 1000)
    write(world.store, wine_rows(100, 11), now - 20 * M, now - M, "recent")
    results = world.service.run(CRN)
    assert results and results[-1].end_ms <= int(time.time() * 1000)


def test_regression_accuracy_from_numeric_ground_truth(world: World) -> None:
    rng = random.Random(5)
    rows: list[dict[str, Any]] = [{"x": rng.gauss(0, 1), "prediction": float(rng.randint(0, 1))} for _ in range(300)]
    ref = world.dir / "numeric.csv"
    ref.write_text("x,prediction\n" + "".join(f"{rng.gauss(0, 1)},{rng.randint(0, 1)}\n" for _ in range(500)))
    uuids = write(world.store, rows[:5], T0 - 60 * M, T0 - 59 * M, "early")  # the model tracks numbers
    add(world, reference=ReferenceRequest(file=str(ref)))
    uuids = write(world.store, rows, T0, T0 + 30 * M, "reg")
    actual = [r["prediction"] + rng.gauss(0, 0.5) for r in rows]
    for u, a in zip(uuids, actual, strict=True):
        world.store.merge_delayed(u, {"actual_result": a})
    [result] = world.service.catch_up(CRN, now_ms=T0 + 30 * M + 1)
    assert result.regression is not None and result.classification is None and result.regression.n == 300
    errors = [a - r["prediction"] for a, r in zip(actual, rows, strict=True)]
    assert result.regression.mae == pytest.approx(sum(abs(e) for e in errors) / 300, rel=1e-12)
    assert result.regression.rmse == pytest.approx((sum(e * e for e in errors) / 300) ** 0.5, rel=1e-12)
    m = aggregates(world.store)[0].metrics
    assert m["mae"] == result.regression.mae and m["accuracy.labelled"] == 300
