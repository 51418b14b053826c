"""The metrics store contract, run against BOTH backends (SQLite in tmp_path, PostgreSQL in a throwaway DB).

Backend-specific schema checks (refusing a schema older/newer than the code) are at the end.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from catalog import NotFound
from serving.metrics import (
    DuplicatePrediction,
    InvalidMetrics,
    InvalidMetricsQuery,
    MetricRecord,
    MetricsSchemaTooNew,
    MetricsSchemaTooOld,
    MetricsStore,
    MetricsStoreClosed,
    MetricsStoreUnavailable,
    UnknownPrediction,
    UnsupportedStoreUrl,
    open_metrics_store,
    sqlite_url,
    upgrade_command,
    upgrade_metrics_db,
)
from serving.metrics.pgschema import VERSION_TABLE, head_revision

from .conftest import Crns, PgServer

T0 = 1_746_629_493_901  # a CML read_metrics timestamp (§1.3 of the reference notes)
Opener = Callable[..., MetricsStore]


def uuids(records: list[MetricRecord]) -> list[str | None]:
    return [r.prediction_uuid for r in records]


# ---- write / read


@pytest.mark.parametrize("by", ["model_deployment_crn", "model_build_crn", "model_crn"])
def test_read_by_each_crn(store: MetricsStore, crns: Crns, by: str) -> None:
    mine = [crns.record(T0 + i) for i in range(3)]
    other = Crns.fresh()
    store.write_predictions([*mine, other.record(T0 + 1)])
    read_by: dict[str, Callable[[], list[MetricRecord]]] = {
        "model_deployment_crn": lambda: store.read(model_deployment_crn=crns.deployment),
        "model_build_crn": lambda: store.read(model_build_crn=crns.build),
        "model_crn": lambda: store.read(model_crn=crns.model),
    }
    got = read_by[by]()
    assert got == mine
    assert got[0].to_cml()["modelDeploymentCrn"] == crns.deployment
    assert got[0].to_cml()["modelBuildCrn"] == crns.build and got[0].to_cml()["modelCrn"] == crns.model


def test_several_crns_are_anded_and_unknown_crns_find_nothing(store: MetricsStore, crns: Crns) -> None:
    rec = crns.record(T0)
    store.write_predictions([rec])
    assert store.read(model_deployment_crn=crns.deployment, model_crn=crns.model) == [rec]
    assert store.read(model_deployment_crn=crns.deployment, model_crn=Crns.fresh().model) == []
    assert store.read(model_crn="crn:cdp:ml:::workspace:dev/never-written") == []


def test_window_matches_start_time_inclusive_start_exclusive_end(store: MetricsStore, crns: Crns) -> None:
    recs = {t: crns.record(t, end_ms=t + 1000) for t in (T0 - 1, T0, T0 + 1, T0 + 2)}
    store.write_predictions(recs.values())

    def window(start: int, end: int | None) -> list[str | None]:
        return uuids(store.read(crns.deployment, start_ms=start, end_ms=end))

    assert window(T0, T0 + 1) == [recs[T0].prediction_uuid]  # the mlops-mlflow README's lookup of t0
    assert window(T0, T0 + 2) == uuids([recs[T0], recs[T0 + 1]])
    assert window(T0 + 1, T0 + 1) == []  # empty window
    assert window(T0 - 1000, T0) == [recs[T0 - 1].prediction_uuid]  # end time (t0-1+1000) is not what matches
    assert window(T0 + 1, None) == uuids([recs[T0 + 1], recs[T0 + 2]])  # no end: up to now and beyond
    assert window(0, None) == uuids(list(recs.values()))  # CML's defaults: start 0, end now
    assert uuids(store.read(crns.deployment)) == uuids(list(recs.values()))


def test_bad_read_arguments_are_clear_errors(store: MetricsStore) -> None:
    with pytest.raises(InvalidMetricsQuery, match="at least one of model_deployment_crn"):
        store.read()
    with pytest.raises(InvalidMetricsQuery, match="before start_ms"):
        store.read("crn:x", start_ms=10, end_ms=9)
    with pytest.raises(InvalidMetricsQuery, match="start_ms"):
        store.read("crn:x", start_ms=-1)


def test_results_are_ordered_by_start_time_then_write_order(store: MetricsStore, crns: Crns) -> None:
    late, early, tie_a, tie_b = crns.record(T0 + 50), crns.record(T0), crns.record(T0 + 10), crns.record(T0 + 10)
    store.write_predictions([late, tie_a])
    store.submit(early).result()
    store.submit(tie_b).result()
    assert uuids(store.read(crns.deployment)) == uuids([early, tie_a, tie_b, late])


def test_records_without_build_or_model_crn(store: MetricsStore, crns: Crns) -> None:
    rec = MetricRecord(model_deployment_crn=crns.deployment, prediction_uuid=str(uuid.uuid4()), start_ms=T0,
                       end_ms=T0, metrics={"x": 1})
    store.submit(rec).result()
    assert store.read(crns.deployment) == [rec]
    assert store.read(model_crn=crns.model) == []


def test_non_canonical_prediction_uuids_come_back_exactly(store: MetricsStore, crns: Crns) -> None:
    spellings = [str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}", uuid.uuid4().hex, "12345", "req-42/a"]
    store.write_predictions([crns.record(T0 + i, prediction_uuid=u) for i, u in enumerate(spellings)])
    assert uuids(store.read(crns.deployment)) == spellings
    assert store.merge_delayed("12345", {"late": True}).metrics["late"] is True


# ---- aggregates


def test_aggregates_come_back_with_null_prediction_uuid_mixed_with_predictions(store: MetricsStore,
                                                                              crns: Crns) -> None:
    store.write_predictions([crns.record(T0), crns.record(T0 + 20)])
    agg = store.write_aggregate(crns.deployment, T0 + 10, T0 + 10, {"chisq_x2": 0.42, "chisq_p": 0.51},
                                model_build_crn=crns.build, model_crn=crns.model)
    got = store.read(crns.deployment)
    assert [r.to_cml()["predictionUuid"] is None for r in got] == [False, True, False]
    assert got[1] == agg and got[1].metrics == {"chisq_x2": 0.42, "chisq_p": 0.51}
    assert store.read(model_crn=crns.model, start_ms=T0 + 10, end_ms=T0 + 11) == [agg]  # zero-width, found at t
    assert store.read(crns.deployment, start_ms=T0 + 11) == [got[2]]


def test_many_aggregates_for_one_window_are_all_kept(store: MetricsStore, crns: Crns) -> None:
    for i in range(3):
        store.write_aggregate(crns.deployment, T0, T0 + 60_000, {"run": i})
    assert [r.metrics["run"] for r in store.read(crns.deployment)] == [0, 1, 2]


def test_bad_aggregate_is_refused(store: MetricsStore, crns: Crns) -> None:
    with pytest.raises(InvalidMetrics):
        store.write_aggregate(crns.deployment, T0 + 1, T0, {"x": 1})
    with pytest.raises(InvalidMetrics):
        store.write_aggregate(crns.deployment, T0, T0, {"x": float("nan")})


# ---- delayed metrics


def test_delayed_metrics_merge_into_the_prediction(store: MetricsStore, crns: Crns) -> None:
    rec = crns.record(T0, {"prediction": [2]})
    store.submit(rec).result()
    merged = store.merge_delayed(str(rec.prediction_uuid), {"actual_result": "1"})
    assert merged.metrics == {"actual_result": "1", "prediction": [2]}  # the notebook's before/after
    assert merged.model_copy(update={"metrics": rec.metrics}) == rec  # nothing else changed
    assert store.read(crns.deployment) == [merged]


def test_delayed_metrics_overwrite_a_key_shallowly_and_keep_nulls(store: MetricsStore, crns: Crns) -> None:
    rec = crns.record(T0, {"a": 1, "nested": {"x": 1, "y": 2}, "keep": "k"})
    store.write_predictions([rec])
    store.merge_delayed(str(rec.prediction_uuid), {"a": "one", "nested": {"x": 9}, "gone": None})
    assert store.read(crns.deployment)[0].metrics == {"a": "one", "nested": {"x": 9}, "keep": "k", "gone": None}


def test_delayed_metrics_for_an_unknown_prediction_is_an_error(store: MetricsStore, crns: Crns) -> None:
    store.write_predictions([crns.record(T0)])
    missing = str(uuid.uuid4())
    with pytest.raises(UnknownPrediction, match=missing) as excinfo:
        store.merge_delayed(missing, {"actual_result": "1"})
    assert excinfo.value.prediction_uuid == missing and excinfo.value.code == "unknown_prediction"
    assert isinstance(excinfo.value, NotFound)  # a 404 on the metrics API
    with pytest.raises(InvalidMetrics):
        store.merge_delayed(missing, {"x": float("inf")})


def test_delayed_metrics_right_after_submit_see_the_prediction(store: MetricsStore, crns: Crns) -> None:
    rec = crns.record(T0)
    pending = store.submit(rec)  # not awaited: the merge is queued behind it on the same writer
    assert store.merge_delayed(str(rec.prediction_uuid), {"late": 1}).metrics["late"] == 1
    assert pending.done()


# ---- values


def test_json_value_types_round_trip(store: MetricsStore, crns: Crns) -> None:
    metrics: dict[str, Any] = {
        "str": "Excellent", "empty": "", "unicode": "Ünïcødé 日本語 🍷 e\u0301 \u200d", "escapes": 'q"\\\n\t/',
        "int": 42, "neg": -7, "zero": 0, "big": 2**62, "min": -(2**63),
        "float": 0.1, "tiny": 1.5e-7, "negf": -3.25, "whole": 3.0,
        "true": True, "false": False, "null": None,
        "list": [1, "two", 3.5, [4], {"five": 5}, None, False], "empty_list": [], "empty_dict": {},
        "dict": {"nested": {"deep": [True, None]}, "clé 🔑": "v"},
    }
    rec = crns.record(T0, metrics)
    store.submit(rec).result()
    (back,) = store.read(crns.deployment)
    assert back.metrics == metrics
    assert {k: type(v) for k, v in back.metrics.items()} == {k: type(v) for k, v in metrics.items()}
    assert back == rec


def test_exponent_floats_keep_their_value(store: MetricsStore, crns: Crns) -> None:
    # JSONB spells 1e16 as 10000000000000000, which comes back as an int: equal value, documented.
    store.submit(crns.record(T0, {"a": 1e16, "b": 2.5e-300})).result()
    (back,) = store.read(crns.deployment)
    assert back.metrics == {"a": 1e16, "b": 2.5e-300}


# ---- bulk reads for monitoring: iter_prediction_metrics, recent_predictions, count_predictions


def ndjson_records(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for chunk in chunks for line in chunk.split(b"\n")]


def test_iter_prediction_metrics_streams_the_window_s_predictions_in_read_order(store: MetricsStore,
                                                                                 crns: Crns) -> None:
    late, early, tie_a, tie_b = (crns.record(T0 + 50, {"n": 1}), crns.record(T0, {"n": 2}),
                                 crns.record(T0 + 10, {"n": 3}), crns.record(T0 + 10, {"n": 4}))
    store.write_predictions([late, tie_a])
    store.submit(early).result()
    store.submit(tie_b).result()
    store.write_predictions([crns.record(T0 - 1, {"n": 0}), crns.record(T0 + 51, {"n": 5})])  # out of the window
    store.write_aggregate(crns.deployment, T0 + 10, T0 + 10, {"n": "aggregate"})
    store.write_predictions([Crns.fresh().record(T0 + 20, {"n": "other deployment"})])
    expected = [r.metrics for r in store.read(crns.deployment, start_ms=T0, end_ms=T0 + 51) if not r.is_aggregate]
    assert expected == [{"n": 2}, {"n": 3}, {"n": 4}, {"n": 1}]
    for chunk_rows in (1, 3, 4, 65_536):
        chunks = list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 51, chunk_rows=chunk_rows))
        assert ndjson_records(chunks) == expected
        assert [chunk.count(b"\n") + 1 for chunk in chunks] == {1: [1, 1, 1, 1], 3: [3, 1], 4: [4],
                                                                 65_536: [4]}[chunk_rows]
        assert all(isinstance(c, bytes) and not c.endswith(b"\n") for c in chunks)
    assert ndjson_records(list(store.iter_prediction_metrics(crns.deployment, T0 + 10, T0 + 11))) == [{"n": 3},
                                                                                                    {"n": 4}]


def test_iter_prediction_metrics_of_an_empty_window_or_unknown_deployment_yields_nothing(store: MetricsStore,
                                                                                          crns: Crns) -> None:
    store.write_predictions([crns.record(T0)])
    store.write_aggregate(crns.deployment, T0 + 5, T0 + 5, {"only": "an aggregate"})
    assert list(store.iter_prediction_metrics(crns.deployment, T0 + 1, T0 + 10)) == []
    assert list(store.iter_prediction_metrics(crns.deployment, T0, T0)) == []
    assert list(store.iter_prediction_metrics(Crns.fresh().deployment, 0, 2**62)) == []


def test_iter_prediction_metrics_lines_are_the_stored_json(store: MetricsStore, crns: Crns) -> None:
    metrics: dict[str, Any] = {
        "escapes": 'q"\\\n\t/\r\b\f\x01', "backslashes": "C:\\temp\\new \\\\ \\u0041", "unicode": "Ünïcødé 🍷 \u2028",
        "key with spaces": 1, "dotted.key": [1, "two", {"three": None}], "big": 2**63 - 1, "float": 0.1,
        "bool": True, "null": None, "nested": {"a": {"b": "\n"}},
    }
    store.write_predictions([crns.record(T0, metrics), crns.record(T0 + 1, {"x": "\\"})])
    (chunk,) = list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 2))
    assert chunk.count(b"\n") == 1  # one line per record: newlines inside strings stay escaped
    assert ndjson_records([chunk]) == [metrics, {"x": "\\"}]


def test_iter_prediction_metrics_reads_one_snapshot(store: MetricsStore, crns: Crns) -> None:
    store.write_predictions([crns.record(T0 + i, {"i": i}) for i in range(4)])
    chunks = store.iter_prediction_metrics(crns.deployment, T0, T0 + 100, chunk_rows=2)
    first = next(chunks)
    store.write_predictions([crns.record(T0 + 50, {"i": "written meanwhile"})])
    assert ndjson_records([first, *chunks]) == [{"i": i} for i in range(4)]
    assert len(list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 100))) == 1  # a new one sees it


def test_iter_prediction_metrics_unordered_has_the_same_records_from_one_snapshot(store: MetricsStore,
                                                                                    crns: Crns) -> None:
    store.write_predictions([crns.record(T0 + i, {"i": i}) for i in range(40)])
    store.write_aggregate(crns.deployment, T0 + 5, T0 + 5, {"i": "aggregate"})
    for chunk_rows in (1, 7, 100):
        chunks = list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 40, chunk_rows, ordered=False))
        got = ndjson_records(chunks)
        assert sorted(r["i"] for r in got) == list(range(40)) and all(c.count(b"\n") < chunk_rows for c in chunks)
    stream = store.iter_prediction_metrics(crns.deployment, T0, T0 + 100, 3, ordered=False)
    first = next(stream)
    store.write_predictions([crns.record(T0 + 30, {"i": "written meanwhile"}), crns.record(T0 + 90, {"i": 99})])
    assert sorted(r["i"] for r in ndjson_records([first, *stream])) == list(range(40))  # both halves: one snapshot
    abandoned = store.iter_prediction_metrics(crns.deployment, T0, T0 + 100, 1, ordered=False)
    next(abandoned)
    abandoned.close()  # type: ignore[attr-defined]  # stops both readers; nothing hangs, connections go back
    assert len(ndjson_records(list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 100)))) == 42


def test_iter_prediction_metrics_runs_in_another_thread_and_abandoned_iterations_free_their_connection(
        store: MetricsStore, crns: Crns) -> None:
    store.write_predictions([crns.record(T0 + i, {"i": i}) for i in range(3)])
    got: list[bytes] = []
    chunks = store.iter_prediction_metrics(crns.deployment, T0, T0 + 3)
    worker = threading.Thread(target=lambda: got.extend(chunks))
    worker.start()
    worker.join(30)
    assert ndjson_records(got) == [{"i": i} for i in range(3)]
    for _ in range(12):  # more than the PostgreSQL read pool holds: each one is given back
        started = store.iter_prediction_metrics(crns.deployment, T0, T0 + 3, chunk_rows=1)
        assert ndjson_records([next(started)]) == [{"i": 0}]
        started.close()  # type: ignore[attr-defined]
    assert store.count_predictions(crns.deployment, T0, T0 + 3) == 3


def test_iter_prediction_metrics_bad_arguments_and_closed_store(open_store: Opener, crns: Crns) -> None:
    store = open_store()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"end_ms": T0 - 1}, "before start_ms"), ({"start_ms": -1}, "start_ms"), ({"chunk_rows": 0}, "chunk_rows"),
        ({"chunk_rows": True}, "chunk_rows"), ({"chunk_rows": 2**40}, "chunk_rows"), ({"end_ms": None}, "end_ms"),
        ({"model_deployment_crn": ""}, "model_deployment_crn"),
    ]
    for kwargs, match in bad:
        args: dict[str, Any] = {"model_deployment_crn": crns.deployment, "start_ms": T0, "end_ms": T0 + 1, **kwargs}
        with pytest.raises(InvalidMetricsQuery, match=match):
            store.iter_prediction_metrics(**args)  # raised by the call, before any iteration
    store.write_predictions([crns.record(T0 + i) for i in range(3)])
    chunks = store.iter_prediction_metrics(crns.deployment, T0, T0 + 3, chunk_rows=1)
    next(chunks)
    store.close()
    with pytest.raises(MetricsStoreClosed):
        next(chunks)  # closing the store stops an iteration at its next chunk
    with pytest.raises(MetricsStoreClosed):
        store.iter_prediction_metrics(crns.deployment, T0, T0 + 3)


def test_recent_predictions_are_the_latest_first(store: MetricsStore, crns: Crns) -> None:
    late, early, tie_a, tie_b = crns.record(T0 + 50), crns.record(T0), crns.record(T0 + 10), crns.record(T0 + 10)
    store.write_predictions([late, tie_a])
    store.submit(early).result()
    store.submit(tie_b).result()
    store.write_aggregate(crns.deployment, T0 + 60, T0 + 60, {"agg": 1})
    store.write_predictions([Crns.fresh().record(T0 + 70)])
    assert store.recent_predictions(crns.deployment) == [late, tie_b, tie_a, early]  # read order, reversed
    assert store.recent_predictions(crns.deployment, limit=2) == [late, tie_b]
    assert store.recent_predictions(Crns.fresh().deployment) == []
    for limit in (0, -1, 10_001, True):
        with pytest.raises(InvalidMetricsQuery, match="limit"):
            store.recent_predictions(crns.deployment, limit=limit)


def test_count_predictions_counts_the_window_s_predictions(store: MetricsStore, crns: Crns) -> None:
    store.write_predictions([crns.record(T0 + i) for i in range(5)])
    store.write_aggregate(crns.deployment, T0 + 1, T0 + 1, {"agg": 1})
    store.write_predictions([Crns.fresh().record(T0 + 1)])
    assert store.count_predictions(crns.deployment, T0, T0 + 5) == 5
    assert store.count_predictions(crns.deployment, T0 + 1, T0 + 3) == 2  # [start, end)
    assert store.count_predictions(crns.deployment, T0 + 2, T0 + 2) == 0
    assert store.count_predictions(Crns.fresh().deployment, 0, 2**62) == 0
    with pytest.raises(InvalidMetricsQuery, match="before start_ms"):
        store.count_predictions(crns.deployment, T0, T0 - 1)


def test_bulk_reads_of_a_closed_store_fail(open_store: Opener, crns: Crns) -> None:
    store = open_store()
    store.close()
    with pytest.raises(MetricsStoreClosed):
        store.recent_predictions(crns.deployment)
    with pytest.raises(MetricsStoreClosed):
        store.count_predictions(crns.deployment, 0, 1)


def test_postgres_chunks_are_utf8_whatever_the_client_encoding(pg_url: str, crns: Crns) -> None:
    with open_metrics_store(pg_url + "?client_encoding=LATIN1") as store:
        store.write_predictions([crns.record(T0, {"city": "Zürich"})])
        (chunk,) = list(store.iter_prediction_metrics(crns.deployment, T0, T0 + 1))
        assert "Zürich".encode() in chunk and orjson.loads(chunk) == {"city": "Zürich"}
        assert store.read(crns.deployment)[0].metrics == {"city": "Zürich"}  # the pooled connection is as it was


def test_postgres_reader_lost_mid_iteration_is_unavailable(pg_url: str, crns: Crns) -> None:
    with open_metrics_store(pg_url) as store:
        store.write_predictions([crns.record(T0 + i) for i in range(3)])
        chunks = store.iter_prediction_metrics(crns.deployment, T0, T0 + 3, chunk_rows=1)
        next(chunks)
        with psycopg.connect(pg_url, autocommit=True) as admin:  # a server restart, for the reading backend
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                "'mlcatalog-metrics-reader' AND datname = current_database() AND state = 'idle in transaction'"
            ).fetchall()
        assert killed == [(True,)]
        with pytest.raises(MetricsStoreUnavailable, match="cannot read the metrics database"):
            next(chunks)
        assert store.count_predictions(crns.deployment, T0, T0 + 3) == 3  # the pool replaced the connection


# ---- concurrency, durability, lifecycle


@pytest.mark.parametrize("how", ["submit", "write", "mixed"])
def test_concurrent_submitters_are_all_durable_and_readable(store: MetricsStore, crns: Crns, how: str) -> None:
    """``write`` commits inline when the store is idle and joins the group commit when it is not; any mix of the
    two from many threads keeps every confirmed record."""
    threads, per_thread = 16, 60
    confirmed: list[str] = []
    lock = threading.Lock()

    def submitter(n: int) -> None:
        for i in range(per_thread):
            rec = crns.record(T0 + n * per_thread + i)
            if how == "write" or (how == "mixed" and n % 2):
                store.write(rec, timeout=30)
            else:
                store.submit(rec).result(timeout=30)
            with lock:
                confirmed.append(str(rec.prediction_uuid))

    workers = [threading.Thread(target=submitter, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert len(confirmed) == threads * per_thread
    assert sorted(str(u) for u in uuids(store.read(crns.deployment))) == sorted(confirmed)


def test_asyncio_tasks_await_durability(store: MetricsStore, crns: Crns) -> None:
    async def handle(i: int) -> str:
        rec = crns.record(T0 + i)
        await asyncio.wrap_future(store.submit(rec, timeout=0))
        return str(rec.prediction_uuid)

    async def main() -> list[str]:
        return await asyncio.gather(*(handle(i) for i in range(300)))

    confirmed = asyncio.run(main())
    assert uuids(store.read(crns.deployment)) == confirmed


def test_duplicate_uuid_fails_only_its_own_write(store: MetricsStore, crns: Crns) -> None:
    first = crns.record(T0)
    store.submit(first).result()
    again = crns.record(T0 + 1, prediction_uuid=first.prediction_uuid)
    futures = [store.submit(crns.record(T0 + 2)), store.submit(again), store.submit(crns.record(T0 + 3))]
    with pytest.raises(DuplicatePrediction):
        futures[1].result(timeout=10)
    assert futures[0].result(timeout=10) is None and futures[2].result(timeout=10) is None
    assert len(store.read(crns.deployment)) == 3
    with pytest.raises(DuplicatePrediction):
        store.write_predictions([crns.record(T0 + 5), crns.record(T0 + 6, prediction_uuid=first.prediction_uuid)])
    assert len(store.read(crns.deployment)) == 3  # write_predictions is all or nothing
    with pytest.raises(DuplicatePrediction):
        store.write(again)
    store.write(crns.record(T0 + 7))  # the failed inline write left the connection usable
    assert len(store.read(crns.deployment)) == 4


def test_close_flushes_everything_submitted(open_store: Opener, crns: Crns) -> None:
    store = open_store()
    futures = [store.submit(crns.record(T0 + i)) for i in range(2000)]  # not awaited
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(MetricsStoreClosed):
        store.submit(crns.record(T0))
    with pytest.raises(MetricsStoreClosed):
        store.read(crns.deployment)
    store.close()  # idempotent
    assert len(open_store().read(crns.deployment)) == 2000


def test_reopen_keeps_data(open_store: Opener, crns: Crns) -> None:
    with open_store() as store:
        store.write_predictions([crns.record(T0), crns.record(T0 + 1)])
        store.write_aggregate(crns.deployment, T0, T0 + 2, {"n": 2})
        before = store.read(crns.deployment)
    reopened = open_store()
    assert reopened.read(crns.deployment) == before and len(before) == 3
    assert reopened.read(model_build_crn=crns.build) == [r for r in before if not r.is_aggregate]


def test_bulk_write_of_many_records(store: MetricsStore, crns: Crns) -> None:
    records = [crns.record(T0 + i) for i in range(6_000)]  # more rows than one multi-row INSERT statement takes
    store.write_predictions(records)
    got = store.read(crns.deployment, start_ms=T0 + 100, end_ms=T0 + 200)
    assert got == records[100:200]


# ---- URLs and schema versions


@pytest.mark.parametrize("url", [
    "mysql://user@host/db", "", "metrics.db", "/abs/metrics.db", "sqlite://host/abs.db", "sqlite:///",
    "sqlite:///relative/../", "sqlite:///:memory:", "sqlite:///abs.db?journal=off", "sqlite:///abs.db?synchronous=off",
])
def test_bad_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(UnsupportedStoreUrl, match=r"sqlite:///abs/path\.db|synchronous=normal\|full"):
        open_metrics_store(url)


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(MetricsStoreUnavailable, match=re.escape("postgresql://metrics@127.0.0.1:1/db")) as excinfo:
        open_metrics_store("postgresql://metrics:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(excinfo.value)


def test_sqlite_store_newer_than_code_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    open_metrics_store(url).close()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(MetricsSchemaTooNew, match="schema version 99, newer than this mlcatalog"):
        open_metrics_store(url)


def test_sqlite_file_of_something_else_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    with pytest.raises(MetricsSchemaTooNew, match="not an mlcatalog metrics store"):
        open_metrics_store(sqlite_url(tmp_path / "other.db"))


def test_postgres_schema_older_than_code_refuses_to_start(pg_server: PgServer) -> None:
    url = pg_server.create("old")
    upgrade_metrics_db(url, "0001")
    url_with_password = url.replace("://", "://:s3cret@", 1) if "@" not in url else url.replace("@", ":s3cret@", 1)
    with pytest.raises(MetricsSchemaTooOld) as excinfo:
        open_metrics_store(url_with_password)
    message = str(excinfo.value)
    assert f"revision 0001, this mlcatalog needs {head_revision()}" in message
    assert excinfo.value.command == upgrade_command(url) and upgrade_command(url) in message
    assert excinfo.value.command.startswith("mlcatalog metrics-db upgrade postgresql://")
    assert "s3cret" not in message
    upgrade_metrics_db(url)  # what the named command does
    with open_metrics_store(url) as store:
        assert store.read(model_crn="crn:x") == []


def test_postgres_schema_newer_than_code_is_refused(pg_server: PgServer) -> None:
    url = pg_server.create("new")
    upgrade_metrics_db(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(MetricsSchemaTooNew, match="revision 9999, unknown to this mlcatalog"):
        open_metrics_store(url)


def test_postgres_tables_not_made_by_mlcatalog_are_refused(pg_server: PgServer) -> None:
    url = pg_server.create("foreign")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE metric_record (x int)")
    with pytest.raises(MetricsSchemaTooNew, match="not created by mlcatalog"):
        open_metrics_store(url)


def test_postgres_fresh_database_is_initialised_once_by_replicas_starting_together(pg_server: PgServer) -> None:
    url = pg_server.create("fresh")
    results: list[object] = []

    def start() -> None:
        try:
            store = open_metrics_store(url)
            store.close()
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    replicas = [threading.Thread(target=start) for _ in range(4)]
    for r in replicas:
        r.start()
    for r in replicas:
        r.join(60)
    assert results == ["ok"] * 4
    with psycopg.connect(url) as conn:
        assert conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [(head_revision(),)]


def test_postgres_writer_reconnects_after_its_connection_was_dropped(pg_url: str, crns: Crns,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.metrics import postgres_store

    monkeypatch.setattr(postgres_store._Writer, "ping_after_idle_s", 0.0)  # ping before every batch
    with open_metrics_store(pg_url) as store:
        store.submit(crns.record(T0)).result()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # a server restart / firewall drop, for one backend
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'mlcatalog-metrics-writer' AND datname = current_database()").fetchall()
        assert killed == [(True,)]
        store.submit(crns.record(T0 + 1)).result(timeout=30)
        assert len(store.read(crns.deployment)) == 2


def test_sqlite_upgrade_command_target_creates_the_schema(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "sub" / "m.db")
    upgrade_metrics_db(url)
    with sqlite3.connect(tmp_path / "sub" / "m.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    assert upgrade_command(url) == f"mlcatalog metrics-db upgrade {url}"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg"])
def test_postgres_url_spellings(pg_url: str, scheme: str, crns: Crns) -> None:
    with open_metrics_store(pg_url.replace("postgresql", scheme, 1)) as store:
        store.submit(crns.record(T0)).result()
        assert len(store.read(crns.deployment)) == 1
