"""A monitoring window as columns: a deployment's prediction metrics turned into numpy arrays and counts.

The store streams the window as chunks of newline-delimited JSON (``MetricsStore.iter_prediction_metrics``). A
producer thread pulls the chunks from the database while this thread parses the previous one with Arrow's JSON
reader; sqlite3, psycopg and Arrow all release the GIL, so reading and parsing overlap. On the fast path there is
no Python object per record or per value: per chunk, Arrow columns become numpy arrays (numeric metrics) and Arrow
value counts (categorical metrics, label pairs), merged at the end; memory is the result plus a few chunks.

Two ways to parse a chunk, with identical results (tests/monitoring/test_window.py runs the same data through both):

* fast - ``pyarrow.json.read_json`` with an explicit schema (other keys ignored). A JSON column has one type per
  chunk, and Arrow refuses a chunk where a value does not fit the type asked for, so each key's type is a guess
  among a few candidates, kept from chunk to chunk and re-fitted when a chunk is refused: numeric metrics try
  float64 (ints and floats alike), then string or bool (all values then non-numeric); categorical metrics and
  labels try string, int64, float64, bool. Counting happens on the typed values; only the distinct values become
  text.
* exact - orjson per record, for a chunk no set of guesses fits (a key holding mixed types such as strings and
  numbers, lists, objects) and for the one case Arrow cannot tell apart (an integral float beyond 2**53 among
  categorical numbers: it may have been an int).

Value rules, the same on both paths: a key that is absent or JSON null is *missing*; a number is an int or float
(never a bool), as Python's ``float()`` of it (ints beyond 2**53 round the same way). A categorical value is the
string itself, or the text of any other JSON value: ``true``/``false``; an int's digits; a float's ``repr()``,
except that an integral float below 2**53 is written as the int (``1.0`` -> ``"1"``: a label stored as 1 matches a
prediction 1.0, and PostgreSQL's JSONB, which may spell a float as an int, reads the same as SQLite - the rule of
serving/monitoring/reference.py ``category_text``); lists and objects as compact JSON with sorted keys.
"""

from __future__ import annotations

import array
import contextlib
import math
import queue
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from serving.metrics.errors import InvalidMetricsQuery
from serving.metrics.store import DEFAULT_CHUNK_ROWS, MetricsStore

Floats = npt.NDArray[np.float64]

_NO_PREDICTION = "null"  # the predicted side of a labelled record whose prediction is missing
_QUEUE_DEPTH = 2  # chunks read ahead: enough to keep both threads busy (32768 wine records: 7.5 MB a chunk)
_BLOCK_SIZE = 1 << 20  # Arrow parses a chunk in blocks of this size on its thread pool
_NUMERIC_TYPES = (pa.float64(), pa.string(), pa.bool_())
_TEXT_TYPES = (pa.string(), pa.int64(), pa.float64(), pa.bool_())  # int64 first: exact digits beyond 2**53
_EXACT_INT = 2**53
_ARROW_COLUMN = re.compile(r"Column\(/(.*?)\) ")  # which key Arrow complains about (a hint only, see _refit)


@dataclass(frozen=True)
class NumericColumn:
    values: Floats  # float64, finite values only; in record order when read ordered
    missing: int  # key absent or JSON null
    non_numeric: int  # present but not a number (strings, bools, lists, objects)


@dataclass(frozen=True)
class WindowData:
    predictions: int  # prediction records read
    numeric: dict[str, NumericColumn]
    categorical: dict[str, dict[str, int]]  # value -> count; non-strings by their text (module docstring)
    categorical_missing: dict[str, int]
    labels: dict[tuple[str, str], int]  # (actual, predicted) -> count, as categorical text, of labelled records
    actual_numbers: Floats  # paired with predicted_numbers: records where both are numbers
    predicted_numbers: Floats
    unlabelled: int  # predictions whose actual is missing (absent or null)


def read_window(store: MetricsStore, crn: str, start_ms: int, end_ms: int, *, numeric: Sequence[str],
                categorical: Sequence[str], actual_key: str | None = None, prediction_key: str | None = None,
                label_pairs: bool = True, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                ordered: bool = False) -> WindowData:
    """The prediction records of deployment ``crn`` whose start is in [start_ms, end_ms), as columns.

    ``ordered``: values in record order; by default they come in whatever order the store streams them (the
    statistics do not care, and PostgreSQL then reads the window's two halves at once).

    ``numeric``/``categorical``: top-level metric names (any JSON key: dots and spaces are part of the name). With
    ``actual_key`` and ``prediction_key`` (both or neither): a record is labelled when its actual is not missing;
    ``labels`` counts (actual, predicted) over the labelled records as categorical text (predicted ``"null"`` when
    missing), and the pairs where both are numbers feed regression metrics. ``label_pairs=False`` leaves
    ``labels`` empty: for regression, where nearly every (actual, predicted) pair of floats is an entry of its own
    (a dict as long as the window, ~250 MB of Python objects for 1M predictions).

    Raises InvalidMetricsQuery for bad arguments, and what the store raises (MetricsStoreClosed,
    MetricsStoreUnavailable).
    """
    plan = _Plan.of(numeric, categorical, actual_key, prediction_key, label_pairs)
    chunks = store.iter_prediction_metrics(crn, start_ms, end_ms, chunk_rows, ordered=ordered)  # checks arguments now
    parser = _ChunkParser(plan)
    totals = _Totals(plan)
    with _read_ahead(chunks) as pending:
        for chunk in pending:
            totals.add(parser.parse(chunk))
    return totals.result()


# ---- what to extract


@dataclass(frozen=True)
class _Plan:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    actual: str | None
    prediction: str | None
    label_pairs: bool
    keys: tuple[str, ...]  # every key read, once
    as_number: frozenset[str]  # keys whose numeric view is needed
    as_text: frozenset[str]  # keys whose categorical text is needed

    @classmethod
    def of(cls, numeric: Sequence[str], categorical: Sequence[str], actual: str | None, prediction: str | None,
           label_pairs: bool) -> _Plan:
        num, cat = _key_list("numeric", numeric), _key_list("categorical", categorical)
        if (actual is None) != (prediction is None):
            raise InvalidMetricsQuery("give both actual_key and prediction_key, or neither")
        labels = () if actual is None or prediction is None else (_key("actual_key", actual),
                                                                   _key("prediction_key", prediction))
        return cls(num, cat, actual, prediction, bool(label_pairs), tuple(dict.fromkeys((*num, *cat, *labels))),
                   frozenset((*num, *labels)), frozenset((*cat, *labels) if label_pairs else cat))


def _key_list(name: str, keys: Sequence[str]) -> tuple[str, ...]:
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        raise InvalidMetricsQuery(f"{name} must be a sequence of metric names, not {type(keys).__name__}")
    return tuple(dict.fromkeys(_key(name, k) for k in keys))


def _key(name: str, key: object) -> str:
    if not isinstance(key, str):
        raise InvalidMetricsQuery(f"{name}: metric names are strings, not {type(key).__name__}")
    return key


# ---- one chunk's contribution


@dataclass
class _Part:
    rows: int
    missing: dict[str, int] = field(default_factory=dict)  # every key
    numbers: dict[str, Floats] = field(default_factory=dict)  # keys in as_number: finite values in chunk order
    non_numeric: dict[str, int] = field(default_factory=dict)  # keys in as_number
    counts: dict[str, pa.Table] = field(default_factory=dict)  # keys in as_text: (value, count)
    labels: pa.Table | None = None  # (actual, predicted, count)
    actual_numbers: Floats = field(default_factory=lambda: _floats([]))
    predicted_numbers: Floats = field(default_factory=lambda: _floats([]))
    unlabelled: int = 0


def _floats(values: Sequence[float]) -> Floats:
    return np.array(values, dtype=np.float64)


def _counts_table(values: pa.Array, counts: pa.Array) -> pa.Table:
    return pa.table({"value": values.cast(pa.string()), "count": counts.cast(pa.int64())})


def _labels_table(actual: pa.Array, predicted: pa.Array, counts: pa.Array) -> pa.Table:
    return pa.table({"actual": actual.cast(pa.string()), "predicted": predicted.cast(pa.string()),
                     "count": counts.cast(pa.int64())})


# ---- fast path: Arrow


class _ChunkParser:
    """Parses chunks with Arrow under the current type guesses; re-fits them, or falls back to the exact path."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._usual = {k: _candidates(plan, k)[0] for k in plan.keys}
        self._types = dict(self._usual)
        self._block_size = _BLOCK_SIZE
        # Re-fitting costs a few parses; after one that found no types, skip it for 1, 2, 4, ... refused chunks so
        # that a window of mixed types does not pay it on every chunk (a chunk of the usual types still parses).
        self._skip_refits = 0
        self._backoff = 1

    def parse(self, chunk: bytes) -> _Part:
        table = self._arrow(chunk)
        if table is not None:
            try:
                return _arrow_part(self._plan, table, self._types)
            except _NeedsExact:
                pass
        return _exact_part(self._plan, chunk)

    def _arrow(self, chunk: bytes) -> pa.Table | None:
        try:
            return self._read(chunk, self._types)
        except pa.ArrowInvalid as exc:
            error = exc
        if "straddl" in str(error) and self._block_size <= len(chunk):
            self._block_size = len(chunk) + 1  # a record longer than a block: parse in one block from now on
            return self._arrow(chunk)
        if self._types != self._usual:  # back to the usual types after chunks of unusual ones
            try:
                table = self._read(chunk, self._usual)
            except pa.ArrowInvalid as exc:
                error = exc
            else:
                self._types = dict(self._usual)
                return table
        if self._skip_refits:
            self._skip_refits -= 1
            return None
        table = self._refit(chunk, error)
        if table is None:
            self._skip_refits, self._backoff = self._backoff, min(2 * self._backoff, 64)
        else:
            self._backoff = 1
        return table

    def _refit(self, chunk: bytes, error: pa.ArrowInvalid) -> pa.Table | None:
        """New guesses for the keys Arrow refused (one key at a time, the one its message names first), then the
        whole chunk again. Speed only: whatever the messages say, a chunk is parsed in full or not at all."""
        tried: set[str] = set()
        while True:
            named = _ARROW_COLUMN.search(str(error))
            key = named.group(1) if named and named.group(1) in self._types and named.group(1) not in tried else None
            keys = [key] if key is not None else [k for k in self._plan.keys if k not in tried]
            if not keys or not all(self._fit(chunk, k) for k in keys):
                return None
            tried.update(keys)
            try:
                return self._read(chunk, self._types)
            except pa.ArrowInvalid as exc:
                error = exc

    def _fit(self, chunk: bytes, key: str) -> bool:
        for candidate in sorted(_candidates(self._plan, key), key=lambda t: t != self._types[key]):
            try:
                self._read(chunk, {key: candidate})
            except pa.ArrowInvalid:
                continue
            self._types[key] = candidate
            return True
        return False

    def _read(self, chunk: bytes, types: dict[str, pa.DataType]) -> pa.Table:
        return pj.read_json(
            pa.BufferReader(chunk),
            read_options=pj.ReadOptions(use_threads=True, block_size=self._block_size),
            parse_options=pj.ParseOptions(explicit_schema=pa.schema(list(types.items())),
                                          unexpected_field_behavior="ignore"))


def _candidates(plan: _Plan, key: str) -> tuple[pa.DataType, ...]:
    return _TEXT_TYPES if key in plan.as_text else _NUMERIC_TYPES


class _NeedsExact(Exception):
    """This chunk's Arrow columns cannot give the exact result: parse it with the exact path."""


def _arrow_part(plan: _Plan, table: pa.Table, types: dict[str, pa.DataType]) -> _Part:
    part = _Part(rows=table.num_rows)
    numbers: dict[str, Floats | None] = {}
    for key in plan.keys:
        column = table.column(key)
        part.missing[key] = column.null_count
        if key in plan.as_number:
            numbers[key] = _as_floats(column, types[key])
            values = numbers[key]
            if values is None:  # a string or bool column: nothing in it is a number
                part.numbers[key], part.non_numeric[key] = _floats([]), len(column) - column.null_count
            else:
                part.numbers[key], part.non_numeric[key] = values[~np.isnan(values)], 0
        if key in plan.as_text:
            counted = pc.value_counts(column.drop_null())
            part.counts[key] = _counts_table(_as_text(counted.field("values"), types[key]), counted.field("counts"))
    if plan.actual is not None and plan.prediction is not None:
        _arrow_labels(plan, part, table, numbers, types)
    else:
        part.unlabelled = part.rows
    return part


def _arrow_labels(plan: _Plan, part: _Part, table: pa.Table, numbers: dict[str, Floats | None],
                  types: dict[str, pa.DataType]) -> None:
    assert plan.actual is not None and plan.prediction is not None
    actual_column = table.column(plan.actual)
    part.unlabelled = actual_column.null_count
    if plan.label_pairs:
        # Grouped on the typed values (a null prediction is a group of its own); only distinct pairs become text.
        pairs = pa.table({"actual": actual_column, "predicted": table.column(plan.prediction)})
        grouped = pairs.filter(actual_column.is_valid()).group_by(
            ["actual", "predicted"], use_threads=False).aggregate([([], "count_all")])
        predicted = _as_text(grouped.column("predicted"), types[plan.prediction]).fill_null(_NO_PREDICTION)
        part.labels = _labels_table(_as_text(grouped.column("actual"), types[plan.actual]), predicted,
                                    grouped.column("count_all"))
    actual, predicted = numbers[plan.actual], numbers[plan.prediction]
    if actual is not None and predicted is not None:
        both = ~(np.isnan(actual) | np.isnan(predicted))  # NaN: missing or not a number (stored values are finite)
        part.actual_numbers, part.predicted_numbers = actual[both], predicted[both]


def _as_floats(column: pa.ChunkedArray, kind: pa.DataType) -> Floats | None:
    """float64 values with NaN where missing; None for a column of strings or bools."""
    if kind == pa.float64():
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    if kind == pa.int64():
        # numpy's int64 -> float64 rounds to nearest even, as Python's float(int) does (Arrow's cast refuses > 2**53)
        values = np.asarray(column.fill_null(0).to_numpy(), dtype=np.int64).astype(np.float64)
        values[np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
        return values
    return None


def _as_text(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """The categorical text of (distinct) typed values, nulls kept; _NeedsExact when a float may have been an int."""
    if kind == pa.float64():
        texts = []
        for value in values.to_pylist():
            if value is not None and value.is_integer() and abs(value) >= _EXACT_INT:
                raise _NeedsExact  # 1e16 was spelt 1e16 (a float: "1e+16") or 10000000000000000 (an int)?
            texts.append(None if value is None else _float_text(value))
        return pa.array(texts, pa.string())
    # int64 -> its digits, bool -> true/false, as _text writes them
    return values if kind == pa.string() else pc.cast(values, pa.string())


# ---- exact path: orjson per record


def _exact_part(plan: _Plan, chunk: bytes) -> _Part:
    numbers: dict[str, list[float]] = {k: [] for k in plan.keys if k in plan.as_number}
    counters: dict[str, Counter[str]] = {k: Counter() for k in plan.keys if k in plan.as_text}
    part = _Part(rows=0, missing=dict.fromkeys(plan.keys, 0), non_numeric=dict.fromkeys(numbers, 0))
    labels: Counter[tuple[str, str]] = Counter()
    pairs: tuple[list[float], list[float]] = ([], [])
    for line in chunk.split(b"\n"):
        if not line.strip():  # as Arrow does
            continue
        record = orjson.loads(line)
        if not isinstance(record, dict):
            record = {}
        part.rows += 1
        for key in plan.keys:
            _exact_value(part, numbers, counters, key, record.get(key))
        if plan.actual is not None and plan.prediction is not None:
            _exact_labels(plan, part, labels, pairs, record)
        else:
            part.unlabelled += 1
    part.numbers = {k: _floats(v) for k, v in numbers.items()}
    part.counts = {k: _counts_table(pa.array(list(c), pa.string()), pa.array(list(c.values()), pa.int64()))
                   for k, c in counters.items()}
    if plan.label_pairs and plan.actual is not None:
        part.labels = _labels_table(pa.array([a for a, _ in labels], pa.string()),
                                    pa.array([p for _, p in labels], pa.string()),
                                    pa.array(list(labels.values()), pa.int64()))
    part.actual_numbers, part.predicted_numbers = _floats(pairs[0]), _floats(pairs[1])
    return part


def _exact_value(part: _Part, numbers: dict[str, list[float]], counters: dict[str, Counter[str]], key: str,
                 value: Any) -> None:
    if value is None:
        part.missing[key] += 1
        return
    if key in numbers:
        number = _number(value)
        if number is None:
            part.non_numeric[key] += 1
        else:
            numbers[key].append(number)
    if key in counters:
        counters[key][_text(value)] += 1


def _exact_labels(plan: _Plan, part: _Part, labels: Counter[tuple[str, str]],
                  pairs: tuple[list[float], list[float]], record: dict[str, Any]) -> None:
    assert plan.actual is not None and plan.prediction is not None
    actual, predicted = record.get(plan.actual), record.get(plan.prediction)
    if actual is None:
        part.unlabelled += 1
        return
    if plan.label_pairs:
        labels[(_text(actual), _NO_PREDICTION if predicted is None else _text(predicted))] += 1
    actual_number, predicted_number = _number(actual), _number(predicted)
    if actual_number is not None and predicted_number is not None:
        pairs[0].append(actual_number)
        pairs[1].append(predicted_number)


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    return None  # str, bool (not a number here), list, dict, None


def _text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return _float_text(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()  # lists and objects


def _float_text(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < _EXACT_INT else repr(value)


# ---- merging the parts


class _Totals:
    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._rows = 0
        self._missing = dict.fromkeys(plan.keys, 0)
        self._non_numeric = dict.fromkeys(plan.numeric, 0)
        self._numbers = {k: _Column() for k in plan.numeric}
        self._counts: dict[str, list[pa.Table]] = {k: [] for k in plan.keys if k in plan.as_text}
        self._labels: list[pa.Table] = []
        self._pairs = (_Column(), _Column())
        self._unlabelled = 0

    def add(self, part: _Part) -> None:
        self._rows += part.rows
        self._unlabelled += part.unlabelled
        for key, n in part.missing.items():
            self._missing[key] += n
        for key, column in self._numbers.items():  # label keys have numbers too, only for the pairs
            self._non_numeric[key] += part.non_numeric[key]
            column.extend(part.numbers[key])
        for key, table in part.counts.items():
            self._counts[key].append(table)
        if part.labels is not None:
            self._labels.append(part.labels)
        self._pairs[0].extend(part.actual_numbers)
        self._pairs[1].extend(part.predicted_numbers)

    def result(self) -> WindowData:
        plan = self._plan
        counts = {k: _merged_counts(self._counts[k]) for k in self._counts}
        return WindowData(
            predictions=self._rows,
            numeric={k: NumericColumn(self._numbers[k].values(), self._missing[k], self._non_numeric[k])
                     for k in plan.numeric},
            categorical={k: counts[k] for k in plan.categorical},
            categorical_missing={k: self._missing[k] for k in plan.categorical},
            labels=_merged_labels(self._labels),
            actual_numbers=self._pairs[0].values(),
            predicted_numbers=self._pairs[1].values(),
            unlabelled=self._unlabelled)


class _Column:
    """A float64 column growing chunk by chunk. array.array grows in place (realloc, which moves a large buffer by
    remapping its pages), so the values are never held twice - chunk arrays plus their concatenation at the end
    would double the window's biggest allocation (88 MB for 1M records x 11 metrics)."""

    def __init__(self) -> None:
        self._data = array.array("d")

    def extend(self, values: Floats) -> None:
        self._data.frombytes(np.ascontiguousarray(values, dtype=np.float64).data.cast("B"))

    def values(self) -> Floats:
        return np.frombuffer(self._data, dtype=np.float64)  # no copy; the column cannot grow any more


def _merged_counts(tables: list[pa.Table]) -> dict[str, int]:
    if not tables:
        return {}
    summed = pa.concat_tables(tables).group_by("value", use_threads=False).aggregate([("count", "sum")])
    return dict(zip(summed.column("value").to_pylist(), summed.column("count_sum").to_pylist(), strict=True))


def _merged_labels(tables: list[pa.Table]) -> dict[tuple[str, str], int]:
    if not tables:
        return {}
    summed = pa.concat_tables(tables).group_by(["actual", "predicted"], use_threads=False).aggregate(
        [("count", "sum")])
    pairs = zip(summed.column("actual").to_pylist(), summed.column("predicted").to_pylist(), strict=True)
    return dict(zip(pairs, summed.column("count_sum").to_pylist(), strict=True))


# ---- reading ahead in a thread


@contextlib.contextmanager
def _read_ahead(chunks: Iterator[bytes], depth: int = _QUEUE_DEPTH) -> Iterator[Iterator[bytes]]:
    """Iterate ``chunks`` in a producer thread, ``depth`` chunks ahead of the consumer.

    An exception of the producer is raised in the consumer; when the consumer stops early (or fails) the producer
    stops at its next chunk, closes ``chunks`` (releasing the store's connection) and is joined before this exits.
    """
    handoff: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bytes | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        outcome: BaseException | None = None  # handed to the consumer, which raises it
        try:
            for chunk in chunks:
                if not put((chunk, None)):
                    break  # the consumer left
        except BaseException as exc:  # noqa: BLE001 - see outcome
            outcome = exc
        try:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # an unfinished store iterator gives its connection back now, not when collected
        except BaseException as exc:  # noqa: BLE001 - see outcome
            outcome = outcome or exc
        put((None, outcome))  # nobody takes it when the consumer left: put() returns at once

    def consume() -> Iterator[bytes]:
        while True:
            chunk, error = handoff.get()
            if error is not None:
                raise error
            if chunk is None:
                return
            yield chunk

    producer = threading.Thread(target=produce, name="metrics-window-reader", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()
