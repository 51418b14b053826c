"""read_window on both backends: the columns of a window, the same whichever parsing path ran.

Every read here goes through ``read_both``: once as in production (Arrow, falling back to orjson per chunk when
needed) and once with the exact path forced for every chunk; the two must agree to the bit. Where it matters, a
test also checks which path the production read took, and ``test_random_windows_match_a_reference`` compares both
with a plain-Python statement of the value rules.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
import pytest

from serving.metrics import (
    InvalidMetricsQuery,
    MetricsStore,
    MetricsStoreClosed,
    MetricsStoreUnavailable,
    open_metrics_store,
    sqlite_url,
)
from serving.monitoring import window
from serving.monitoring.window import WindowData, read_window
from tests.metrics.conftest import Crns

T0 = 1_746_629_493_901


def write(store: MetricsStore, crns: Crns, metrics: list[dict[str, Any]], start: int = T0) -> None:
    store.write_predictions([crns.record(start + i, m) for i, m in enumerate(metrics)])


def plain(data: WindowData) -> dict[str, Any]:
    """WindowData with the arrays as lists (exact float comparison, dtype checked)."""
    arrays = [data.actual_numbers, data.predicted_numbers, *(c.values for c in data.numeric.values())]
    assert all(a.dtype == np.float64 and a.ndim == 1 for a in arrays)
    return {
        "predictions": data.predictions,
        "numeric": {k: (c.values.tolist(), c.missing, c.non_numeric) for k, c in data.numeric.items()},
        "categorical": data.categorical, "categorical_missing": data.categorical_missing, "labels": data.labels,
        "actual_numbers": data.actual_numbers.tolist(), "predicted_numbers": data.predicted_numbers.tolist(),
        "unlabelled": data.unlabelled,
    }


class Read:
    """read_window both ways; ``exact_chunks``: chunks the production read parsed with the exact path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.exact_chunks = 0
        exact_part = window._exact_part

        def counting(plan: Any, chunk: bytes) -> Any:
            self.exact_chunks += 1
            return exact_part(plan, chunk)

        monkeypatch.setattr(window, "_exact_part", counting)

    def __call__(self, store: MetricsStore, crn: str, start_ms: int = T0, end_ms: int = T0 + 10**6,
                 **kwargs: Any) -> dict[str, Any]:
        self.exact_chunks = 0
        kwargs.setdefault("ordered", True)  # the expectations below list values in record order
        fast = plain(read_window(store, crn, start_ms, end_ms, **kwargs))
        fast_exact_chunks = self.exact_chunks
        with self.monkeypatch.context() as m:
            m.setattr(window._ChunkParser, "_arrow", lambda self, chunk: None)
            exact = plain(read_window(store, crn, start_ms, end_ms, **kwargs))
        assert fast == exact
        self.exact_chunks = fast_exact_chunks
        return fast


@pytest.fixture
def read_both(monkeypatch: pytest.MonkeyPatch) -> Read:
    return Read(monkeypatch)


# ---- numeric


def test_numeric_values_missing_and_non_numeric(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"x": 1.5, "y": 1}, {"x": 2, "y": "a"}, {"x": None, "y": True}, {"y": [1]},
                        {"x": -0.25, "y": {"k": 1}}, {"x": 2**53 + 1, "y": False}])
    got = read_both(store, crns.deployment, numeric=["x", "y", "absent"], categorical=[])
    assert got["predictions"] == 6
    assert got["numeric"] == {
        "x": ([1.5, 2.0, -0.25, float(2**53 + 1)], 2, 0),
        "y": ([1.0], 0, 5),  # "a", true, [1], {"k": 1}, false: bools are not numbers
        "absent": ([], 6, 0),
    }


def test_numbers_are_python_floats_of_the_stored_values_on_the_fast_path(store: MetricsStore, crns: Crns,
                                                                        read_both: Read) -> None:
    values: list[Any] = [1.5, 2, None, 2**53 + 1, 2**63 - 1, -(2**63), 123456789012345679, 5e-324,
                         1.7976931348623157e308, -0.0, 0.1, 1e-7, 3.0]
    write(store, crns, [{"x": v, "s": "text", "b": i % 2 == 0} for i, v in enumerate(values)] + [{}])
    got = read_both(store, crns.deployment, numeric=["x", "s", "b"], categorical=[])
    assert read_both.exact_chunks == 0
    assert got["numeric"]["x"] == ([float(v) for v in values if v is not None], 2, 0)
    assert got["numeric"]["s"] == ([], 1, 13) and got["numeric"]["b"] == ([], 1, 13)


def test_random_ints_and_floats_round_like_python_float(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    rng = random.Random(7)
    values = [rng.randrange(-(2**63), 2**63) for _ in range(500)] + [rng.randrange(-(2**60), 2**60) for _ in range(500)]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300) for _ in range(1000)]
    write(store, crns, [{"x": v} for v in values])
    got = read_both(store, crns.deployment, numeric=["x"], categorical=[])
    assert read_both.exact_chunks == 0
    assert got["numeric"]["x"] == ([float(v) for v in values], 0, 0)


# ---- categorical


def test_categorical_values_are_named_by_their_text(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    values: list[Any] = ["a", "a", 1, 1.0, True, False, None, [1, "x", 2.0], {"b": 1, "a": None}, 2.5, 2**63 - 1,
                         -0.0, "1"]
    write(store, crns, [{"c": v} for v in values] + [{}])
    got = read_both(store, crns.deployment, numeric=[], categorical=["c"])
    assert got["categorical"] == {"c": {"a": 2, "1": 3, "true": 1, "false": 1, '[1,"x",2.0]': 1,
                                        '{"a":null,"b":1}': 1, "2.5": 1, "9223372036854775807": 1, "0": 1}}
    assert got["categorical_missing"] == {"c": 2}


@pytest.mark.parametrize(("values", "counts"), [
    ([3, 5, 3, 2**63 - 1], {"3": 2, "5": 1, "9223372036854775807": 1}),  # int64 column: exact digits
    ([3.0, 5.5, 3, -2.0], {"3": 2, "5.5": 1, "-2": 1}),  # float64 column: integral floats are ints
    ([True, False, True], {"true": 2, "false": 1}),
    (["x", "y", "x"], {"x": 2, "y": 1}),
])
def test_typed_categorical_columns_stay_on_the_fast_path(store: MetricsStore, crns: Crns, read_both: Read,
                                                         values: list[Any], counts: dict[str, int]) -> None:
    write(store, crns, [{"c": v} for v in values] + [{"c": None}])
    got = read_both(store, crns.deployment, numeric=[], categorical=["c"])
    assert read_both.exact_chunks == 0
    assert got["categorical"] == {"c": counts} and got["categorical_missing"] == {"c": 1}


def test_an_integral_float_beyond_2_53_takes_the_exact_path(store: MetricsStore, crns: Crns, read_both: Read,
                                                           backend: str) -> None:
    write(store, crns, [{"c": 1e16}, {"c": 0.5}])
    got = read_both(store, crns.deployment, numeric=["c"], categorical=["c"])
    assert read_both.exact_chunks == 1  # float64 cannot tell whether 1e16 was stored as an int or a float
    spelt = "10000000000000000" if backend == "postgresql" else "1e+16"  # JSONB writes that float as an int
    assert got["categorical"] == {"c": {spelt: 1, "0.5": 1}}
    assert got["numeric"] == {"c": ([1e16, 0.5], 0, 0)}


# ---- labels


def test_classification_labels(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [
        {"prediction": "Poor", "actual_result": "Poor"}, {"prediction": "Good", "actual_result": "Poor"},
        {"prediction": "Good", "actual_result": "Poor"}, {"prediction": "Good"},
        {"prediction": "Good", "actual_result": None}, {"actual_result": "Good"},
    ])
    got = read_both(store, crns.deployment, numeric=[], categorical=["prediction"], actual_key="actual_result",
                    prediction_key="prediction")
    assert read_both.exact_chunks == 0
    assert got["labels"] == {("Poor", "Poor"): 1, ("Poor", "Good"): 2, ("Good", "null"): 1}
    assert got["unlabelled"] == 2 and got["predictions"] == 6
    assert got["categorical"] == {"prediction": {"Poor": 1, "Good": 4}}
    assert got["categorical_missing"] == {"prediction": 1}
    assert got["actual_numbers"] == [] and got["predicted_numbers"] == []


def test_numeric_class_labels_meet_whatever_their_json_type(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"p": 1.0, "a": 1}, {"p": 0.0, "a": 1}, {"p": 1, "a": 1}, {"p": 0, "a": True}])
    got = read_both(store, crns.deployment, numeric=[], categorical=[], actual_key="a", prediction_key="p")
    assert got["labels"] == {("1", "1"): 2, ("1", "0"): 1, ("true", "0"): 1}
    assert (got["actual_numbers"], got["predicted_numbers"]) == ([1.0, 1.0, 1.0], [1.0, 0.0, 1.0])


@pytest.mark.parametrize("label_pairs", [True, False])
def test_regression_pairs(store: MetricsStore, crns: Crns, read_both: Read, label_pairs: bool) -> None:
    write(store, crns, [{"y": 5.5, "yhat": 5.25}, {"y": 3, "yhat": 3.5}, {"yhat": 1.0}, {"y": 2.5},
                        {"y": 7.0, "yhat": None}, {"y": 1.5, "yhat": 1.5}])
    got = read_both(store, crns.deployment, numeric=["yhat"], categorical=[], actual_key="y", prediction_key="yhat",
                    label_pairs=label_pairs)
    assert read_both.exact_chunks == 0
    assert (got["actual_numbers"], got["predicted_numbers"]) == ([5.5, 3.0, 1.5], [5.25, 3.5, 1.5])
    assert got["unlabelled"] == 1
    assert got["numeric"] == {"yhat": ([5.25, 3.5, 1.0, 1.5], 2, 0)}
    expected = {("5.5", "5.25"): 1, ("3", "3.5"): 1, ("2.5", "null"): 1, ("7", "null"): 1, ("1.5", "1.5"): 1}
    assert got["labels"] == (expected if label_pairs else {})


# ---- what is read


def test_only_the_window_s_predictions_are_read(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    store.write_predictions([crns.record(T0 + t, {"x": t, "c": f"at {t}"}) for t in (-1, 0, 1, 2)])
    store.write_aggregate(crns.deployment, T0 + 1, T0 + 1, {"x": 100, "c": "aggregate"})
    write(store, Crns.fresh(), [{"x": 200, "c": "other deployment"}], start=T0 + 1)
    got = read_both(store, crns.deployment, T0, T0 + 2, numeric=["x"], categorical=["c"])
    assert got["predictions"] == 2
    assert got["numeric"] == {"x": ([0.0, 1.0], 0, 0)}
    assert got["categorical"] == {"c": {"at 0": 1, "at 1": 1}}


def test_keys_with_dots_and_spaces_are_top_level_names(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"a.b": 1.5, "a": {"b": 99}, "c d": "x", "": 2}])
    got = read_both(store, crns.deployment, numeric=["a.b", ""], categorical=["c d", "a"])
    assert got["numeric"] == {"a.b": ([1.5], 0, 0), "": ([2.0], 0, 0)}
    assert got["categorical"] == {"c d": {"x": 1}, "a": {'{"b":99}': 1}}


def test_empty_window(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"x": 1, "c": "a"}])
    got = read_both(store, crns.deployment, T0 + 1, T0 + 5, numeric=["x"], categorical=["c"], actual_key="y",
                    prediction_key="c")
    assert got == {"predictions": 0, "numeric": {"x": ([], 0, 0)}, "categorical": {"c": {}},
                   "categorical_missing": {"c": 0}, "labels": {}, "actual_numbers": [], "predicted_numbers": [],
                   "unlabelled": 0}


def test_chunk_boundaries_do_not_change_the_result(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"x": i / 4, "c": "ab"[i % 2], "y": i % 3, "p": (i + 1) % 3} for i in range(10)])
    kwargs: dict[str, Any] = {"numeric": ["x"], "categorical": ["c"], "actual_key": "y", "prediction_key": "p"}
    whole = read_both(store, crns.deployment, **kwargs)
    for chunk_rows in (1, 3, 10):
        assert read_both(store, crns.deployment, chunk_rows=chunk_rows, **kwargs) == whole
    assert whole["numeric"]["x"][0] == [i / 4 for i in range(10)]  # record order
    assert sum(whole["labels"].values()) == 10


def test_types_changing_between_chunks_are_refitted(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    rows: list[dict[str, Any]] = [{"c": "a", "x": 1.5}, {"c": "b", "x": 2}, {"c": 1, "x": "n/a"}, {"c": 2, "x": "?"},
                                  {"c": True, "x": False}, {"c": 2.5, "x": True}, {"c": "a", "x": 0.5}]
    write(store, crns, rows)
    got = read_both(store, crns.deployment, numeric=["x"], categorical=["c"], chunk_rows=2)
    assert read_both.exact_chunks == 1  # only the chunk holding both true and 2.5 in "c"
    assert got["categorical"] == {"c": {"a": 2, "b": 1, "1": 1, "2": 1, "true": 1, "2.5": 1}}
    assert got["numeric"] == {"x": ([1.5, 2.0, 0.5], 0, 4)}


def test_a_record_longer_than_an_arrow_block(store: MetricsStore, crns: Crns, read_both: Read) -> None:
    write(store, crns, [{"x": 1.0}, {"x": 2.0, "blob": list(range(400_000))}, {"x": 3.0}])  # ~2.7 MB of JSON
    got = read_both(store, crns.deployment, numeric=["x"], categorical=[])
    assert read_both.exact_chunks == 0
    assert got["numeric"] == {"x": ([1.0, 2.0, 3.0], 0, 0)}


# ---- against a plain statement of the rules


def reference(records: list[dict[str, Any]], numeric: list[str], categorical: list[str], actual: str,
              prediction: str) -> dict[str, Any]:
    def number(v: Any) -> float | None:
        return float(v) if type(v) in (int, float) else None

    def text(v: Any) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
        return str(v) if isinstance(v, int) else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()

    labelled = [r for r in records if r.get(actual) is not None]
    pairs = [(number(r[actual]), number(r.get(prediction))) for r in labelled]
    both = [(a, p) for a, p in pairs if a is not None and p is not None]
    return {
        "predictions": len(records),
        "numeric": {k: ([n for r in records if (n := number(r.get(k))) is not None],
                        sum(r.get(k) is None for r in records),
                        sum(r.get(k) is not None and number(r.get(k)) is None for r in records)) for k in numeric},
        "categorical": {k: dict(Counter(text(r[k]) for r in records if r.get(k) is not None)) for k in categorical},
        "categorical_missing": {k: sum(r.get(k) is None for r in records) for k in categorical},
        "labels": dict(Counter((text(r[actual]), "null" if r.get(prediction) is None else text(r[prediction]))
                               for r in labelled)),
        "actual_numbers": [a for a, _ in both], "predicted_numbers": [p for _, p in both],
        "unlabelled": len(records) - len(labelled),
    }


def random_records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Runs of records of one shape (the fast path) and runs of mixed types (the exact path)."""
    scalars: list[Any] = ["a", "b", "Ünï 🍷", 'q"\\', 0, 7, -3, 2**60, 1.0, 2.5, -0.125, 1e-7, True, False, None]
    out: list[dict[str, Any]] = []
    while len(out) < n:
        mixed = rng.random() < 0.3
        for _ in range(rng.randint(1, 12)):
            record: dict[str, Any] = {
                "f.1": rng.choice([rng.uniform(-1e3, 1e3), rng.randint(-10**6, 10**6), None]),
                "f 2": rng.choice(scalars) if mixed else round(rng.gauss(0, 1), rng.randint(0, 6)),
                "cat": rng.choice([*scalars, [1, "x"], {"k": [True]}]) if mixed else rng.choice(["x", "y", "z"]),
                "pred": rng.choice(["x", "y", 1, 1.0] if mixed else ["x", "y"]),
                "actual": rng.choice(["x", "y", None, 0] if mixed else ["x", "y", None]),
            }
            out.append({k: v for k, v in record.items() if rng.random() > 0.1})  # keys absent now and then
    return out[:n]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_windows_match_a_reference(store: MetricsStore, crns: Crns, read_both: Read, seed: int) -> None:
    records = random_records(random.Random(seed), 300)
    write(store, crns, records)
    args: dict[str, Any] = {"numeric": ["f.1", "f 2", "cat"], "categorical": ["cat", "pred", "f 2"],
                            "actual_key": "actual", "prediction_key": "pred"}
    expected = reference(records, args["numeric"], args["categorical"], args["actual_key"], args["prediction_key"])
    for chunk_rows in (3, 7, 65_536):
        assert read_both(store, crns.deployment, chunk_rows=chunk_rows, **args) == expected
        if chunk_rows < 10:  # both paths ran
            assert 0 < read_both.exact_chunks < -(-len(records) // chunk_rows)


# ---- errors and the reader thread


def test_bad_arguments_are_invalid_queries(store: MetricsStore, crns: Crns) -> None:
    bad: list[dict[str, Any]] = [{"numeric": "x", "categorical": []}, {"numeric": [], "categorical": [1]},
                                 {"numeric": [], "categorical": [], "actual_key": "y"},
                                 {"numeric": [], "categorical": [], "chunk_rows": 0}]
    for kwargs in bad:
        with pytest.raises(InvalidMetricsQuery):
            read_window(store, crns.deployment, T0, T0 + 1, **kwargs)
    with pytest.raises(InvalidMetricsQuery, match="before start_ms"):
        read_window(store, crns.deployment, T0, T0 - 1, numeric=[], categorical=[])
    store.close()
    with pytest.raises(MetricsStoreClosed):
        read_window(store, crns.deployment, T0, T0 + 1, numeric=[], categorical=[])


class FakeStore:
    """Just iter_prediction_metrics, from a generator that records whether it was closed."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.closed = threading.Event()

    def iter_prediction_metrics(self, crn: str, start_ms: int, end_ms: int, chunk_rows: int, *,
                                ordered: bool = True) -> Iterator[bytes]:
        try:
            yield from self.chunks
        finally:
            self.closed.set()


def readers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "metrics-window-reader"]


def test_an_error_of_the_reader_thread_is_raised_by_read_window() -> None:
    def failing() -> Iterator[bytes]:
        yield b'{"x": 1}'
        raise MetricsStoreUnavailable("cannot read the metrics database: lost")

    fake = FakeStore(failing())
    with pytest.raises(MetricsStoreUnavailable, match="lost"):
        read_window(cast(MetricsStore, fake), "crn:x", 0, 1, numeric=["x"], categorical=[])
    assert fake.closed.is_set() and readers_alive() == []


def test_the_reader_thread_stops_when_parsing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b'{"x": 1}'
        finally:
            raise MetricsStoreUnavailable("and closing the connection failed too")  # not a thread crash

    def broken_parse(self: Any, chunk: bytes) -> Any:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(window._ChunkParser, "parse", broken_parse)
    fake = FakeStore(endless())
    with pytest.raises(RuntimeError, match="parser bug"):
        read_window(cast(MetricsStore, fake), "crn:x", 0, 1, numeric=["x"], categorical=[])
    assert fake.closed.is_set() and readers_alive() == []


def test_read_window_reads_a_real_store_in_a_thread_of_its_own(tmp_path: Path, crns: Crns) -> None:
    with open_metrics_store(sqlite_url(tmp_path / "m.db")) as store:
        write(store, crns, [{"x": float(i)} for i in range(5)])
        seen: list[str] = []
        iterate = store.iter_prediction_metrics

        def spying(*args: Any, **kwargs: Any) -> Iterator[bytes]:
            for chunk in iterate(*args, **kwargs):
                seen.append(threading.current_thread().name)
                yield chunk

        store.iter_prediction_metrics = spying  # type: ignore[method-assign]
        data = read_window(store, crns.deployment, T0, T0 + 5, numeric=["x"], categorical=[], chunk_rows=2)
    assert data.numeric["x"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert seen == ["metrics-window-reader"] * 3 and readers_alive() == []


def test_unordered_reads_give_the_same_values(store: MetricsStore, crns: Crns) -> None:
    store.write_predictions([crns.record(T0 + t, {"x": float(t), "c": f"c{t % 3}"}) for t in range(200)])
    ordered = read_window(store, crns.deployment, T0, T0 + 200, numeric=["x"], categorical=["c"], chunk_rows=7,
                          ordered=True)
    unordered = read_window(store, crns.deployment, T0, T0 + 200, numeric=["x"], categorical=["c"], chunk_rows=7)
    assert ordered.numeric["x"].values.tolist() == [float(t) for t in range(200)]
    assert sorted(unordered.numeric["x"].values.tolist()) == ordered.numeric["x"].values.tolist()
    assert unordered.categorical == ordered.categorical and unordered.predictions == 200
