"""serving/platform/traffic.py: the latency histogram against numpy.percentile, the recorder's buckets, flushes that
add up across recorders sharing one state file and across restarts, and series with and without a step."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from catalog import InvalidInput
from serving.platform.state import State, StateDb
from serving.platform.traffic import (
    _LOWER,
    BUCKET_MS,
    GROWTH,
    LOWEST_S,
    MAX_POINTS,
    MAX_RELATIVE_ERROR,
    NBINS,
    TrafficRecorder,
    bin_of,
    decode,
    default_step,
    encode,
    quantiles,
)
from tests.servers import wait_until

CRN = "crn:cdp:ml:us-west-1:acct:workspace:ws/6f0c1f55-0d3a-4a57-9d5e-2c6b1f9a0e11"
OTHER = "crn:cdp:ml:us-west-1:acct:workspace:ws/0b9b5f0e-7f53-4c1e-8a43-5d2e3f4a5b6c"
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a multiple of every step
MIN = 60_000


def histogram(latencies: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    h = np.zeros(NBINS, dtype=np.int64)
    for s in latencies:
        h[bin_of(float(s))] += 1
    return h


def relative_errors(latencies: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    true = np.percentile(latencies, [50, 95, 99])
    return np.asarray(np.abs(quantiles(histogram(latencies))[0] - true) / true)


def sample(dist: str, rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    if dist == "lognormal":
        return rng.lognormal(math.log(0.02), 1.2, n)
    if dist == "bimodal":  # fast answers and a slow tail, as under load
        return np.where(rng.random(n) < 0.9, rng.normal(0.004, 0.0005, n).clip(1e-4), rng.normal(1.5, 0.3, n).clip(0.5))
    if dist == "uniform":
        return rng.uniform(0.0002, 30.0, n)
    if dist == "exponential":
        return rng.exponential(0.05, n) + 1e-4
    return np.full(n, rng.uniform(0.001, 10.0))


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDb]:
    db = StateDb(tmp_path / "platform.db")
    yield db
    db.close()


@contextmanager
def recorder_on(path: Path, clock: Clock) -> Iterator[TrafficRecorder]:
    """A recorder on its own StateDb of ``path``: what a second process sharing the file has."""
    db = StateDb(path)
    try:
        yield TrafficRecorder(db, clock=clock)
    finally:
        db.close()


def stored_rows(state: State, crn: str = CRN) -> list[tuple[int, int, int, int]]:
    return [(r[0], r[1], r[2], r[3]) for r in state.conn().execute(
        "SELECT bucket_ms, requests, errors, last_ms FROM traffic WHERE crn = ? ORDER BY bucket_ms", (crn,))]


# -- the histogram -------------------------------------------------------------------------------------------
def test_every_latency_falls_in_the_bin_whose_bounds_hold_it() -> None:
    rng = np.random.default_rng(7)
    for s in np.exp(rng.uniform(math.log(LOWEST_S), math.log(100.0), 20_000)):
        b = bin_of(float(s))
        assert 1 <= b < NBINS - 1
        assert _LOWER[b] * (1 - 1e-12) <= s < _LOWER[b] * GROWTH * (1 + 1e-12), (s, b)
    assert bin_of(0.0) == bin_of(LOWEST_S / 2) == 0
    assert bin_of(1e6) == bin_of(200.0) == NBINS - 1
    assert NBINS - 1 <= 255  # a bin index fits the stored uint8


def test_encoding_keeps_only_the_bins_in_use() -> None:
    h = np.zeros(NBINS, dtype=np.int64)
    h[[0, 3, 40, NBINS - 1]] = [1, 70_000, 2, 5]
    blob = encode(h)
    assert len(blob) == 4 * 5
    assert decode(blob).tolist() == h.tolist()
    assert encode(np.zeros(NBINS, dtype=np.int64)) == b""


@pytest.mark.parametrize("dist", ["lognormal", "bimodal", "uniform", "exponential", "constant"])
def test_percentiles_are_within_the_stated_bound_of_numpy(dist: str) -> None:
    rng = np.random.default_rng(sum(map(ord, dist)))
    worst = 0.0
    means = []
    for _ in range(60):
        errors = relative_errors(sample(dist, rng, int(rng.integers(1, 3000))))
        worst = max(worst, float(errors.max()))
        means.append(errors.mean())
    assert worst <= MAX_RELATIVE_ERROR
    if dist != "constant":  # identical values are spread over their bin by the interpolation: the worst case
        assert float(np.mean(means)) < MAX_RELATIVE_ERROR / 4, means  # a continuous spread reads much closer


def test_a_lone_value_reads_as_its_bins_geometric_middle() -> None:
    for s in (0.00013, 0.0042, 0.25, 7.0, 90.0):
        (p50, p95, p99), = quantiles(histogram(np.array([s])))
        assert p50 == p95 == p99
        assert abs(p50 - s) / s <= math.sqrt(GROWTH) - 1 + 1e-12
        assert p50 == pytest.approx(_LOWER[bin_of(s)] * math.sqrt(GROWTH))


def test_merged_histograms_answer_as_the_histogram_of_all_values() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(math.log(0.01 * (i + 1)), 0.8, int(rng.integers(1, 500))) for i in range(12)]
    merged = sum(decode(encode(histogram(p))) for p in parts)
    whole = np.concatenate(parts)
    assert np.array_equal(quantiles(merged), quantiles(histogram(whole)))
    assert (np.abs(quantiles(merged)[0] - np.percentile(whole, [50, 95, 99])) / np.percentile(whole, [50, 95, 99])
            <= MAX_RELATIVE_ERROR).all()


def test_extremes_read_as_the_histograms_bounds() -> None:
    (tiny, _, _), = quantiles(histogram(np.array([1e-6, 2e-6, 3e-6])))
    assert 0 <= tiny < LOWEST_S
    (huge, _, _), = quantiles(histogram(np.array([500.0, 600.0])))
    assert huge == _LOWER[NBINS - 1] and huge > 120


# -- recording and the series --------------------------------------------------------------------------------
def test_series_counts_requests_errors_and_rate_per_step(state: StateDb) -> None:
    rec = TrafficRecorder(state, clock=Clock(T0 + 60 * MIN))
    rng = np.random.default_rng(11)
    latencies: dict[int, list[float]] = {0: [], 1: []}
    for i in range(600):  # 10 minutes, one request a second: steps of 5 minutes get 300 each
        at = T0 + i * 1000
        s = float(rng.lognormal(math.log(0.03), 0.5))
        latencies[i * 1000 // (5 * MIN)].append(s)
        rec.record(CRN, "model_exception" if i % 10 == 0 else None, s, at_ms=at)
    rec.record(OTHER, None, 0.5, at_ms=T0)

    for flushed in (False, True):
        if flushed:
            assert rec.flush() == 61  # 60 buckets of CRN, one of OTHER
            assert rec.flush() == 0
        series = rec.series(CRN, T0, T0 + 10 * MIN, 5 * MIN)
        assert (series.start_ms, series.end_ms, series.step_ms) == (T0, T0 + 10 * MIN, 5 * MIN)
        assert (series.requests, series.errors) == (600, 60)
        assert [p.t_ms for p in series.points] == [T0, T0 + 5 * MIN]
        for p, step in zip(series.points, (0, 1), strict=True):
            assert (p.requests, p.errors, p.error_rate, p.rate_per_s) == (300, 30, 0.1, 1.0)
            true = np.percentile(latencies[step], [50, 95, 99]) * 1000
            got = np.array([p.p50_ms, p.p95_ms, p.p99_ms])
            assert (np.abs(got - true) / true <= MAX_RELATIVE_ERROR).all(), (got, true)
            assert p.p50_ms <= p.p95_ms <= p.p99_ms
    assert rec.series(OTHER, T0, T0 + 10 * MIN, 5 * MIN).requests == 1


def test_only_steps_with_requests_have_points_and_the_range_widens_to_whole_steps(state: StateDb) -> None:
    rec = TrafficRecorder(state, clock=Clock(T0 + 100 * MIN))
    rec.record(CRN, None, 0.01, at_ms=T0 + 3 * MIN + 5)
    rec.record(CRN, "timeout", 60.0, at_ms=T0 + 41 * MIN)
    rec.flush()
    series = rec.series(CRN, T0 + 2 * MIN + 7, T0 + 45 * MIN, 10 * MIN)
    assert (series.start_ms, series.end_ms) == (T0, T0 + 50 * MIN)
    assert [(p.t_ms, p.requests, p.errors) for p in series.points] == [(T0, 1, 0), (T0 + 40 * MIN, 1, 1)]
    assert series.points[1].p99_ms == pytest.approx(60_000, rel=MAX_RELATIVE_ERROR)
    # with 10 s steps the range is the buckets it covers
    assert rec.series(CRN, T0 + 3 * MIN + 10_000, T0 + 41 * MIN, 10_000).requests == 0
    assert rec.series(CRN, T0 + 3 * MIN + 9_999, T0 + 41 * MIN + 1, 10_000).requests == 2
    assert rec.series(CRN, T0 + 50 * MIN, T0 + 60 * MIN).points == []


def test_without_a_step_at_most_about_240_points_of_a_readable_step(state: StateDb) -> None:
    rec = TrafficRecorder(state, clock=Clock(T0 + 7 * 24 * 60 * MIN))
    for minute in range(0, 7 * 24 * 60, 7):
        rec.record(CRN, None, 0.002, at_ms=T0 + minute * MIN)
    for span, step in ((60 * MIN, 20_000), (24 * 60 * MIN, 10 * MIN), (7 * 24 * 60 * MIN, 60 * MIN),
                       (10 * BUCKET_MS, BUCKET_MS), (400 * 24 * 60 * MIN, 2 * 24 * 60 * MIN)):
        assert default_step(span) == step
        assert span / step <= 240
        series = rec.series(CRN, T0, T0 + span)
        assert series.step_ms == step and len(series.points) <= 241
    week = rec.series(CRN, T0, T0 + 7 * 24 * 60 * MIN)
    assert week.requests == len(range(0, 7 * 24 * 60, 7)) and len(week.points) == 168
    # no range at all: the last hour
    last_hour = rec.series(CRN)
    assert last_hour.end_ms == T0 + 7 * 24 * 60 * MIN and last_hour.start_ms == last_hour.end_ms - 60 * MIN
    assert last_hour.requests == len([m for m in range(0, 7 * 24 * 60, 7) if m >= 7 * 24 * 60 - 60])


def test_the_step_in_progress_is_a_rate_over_its_elapsed_part(state: StateDb) -> None:
    clock = Clock(T0 + 2 * MIN + 15_000)  # 2 min 15 s into a 5-minute step
    rec = TrafficRecorder(state, clock=clock)
    for i in range(120):
        rec.record(CRN, None, 0.01, at_ms=T0 + i * 1000)
    (p,) = rec.series(CRN, T0, T0 + 5 * MIN, 5 * MIN).points
    assert p.rate_per_s == pytest.approx(120 / 140)  # up to the end of the current 10 s bucket
    clock.ms = T0 + 10 * MIN
    (p,) = rec.series(CRN, T0, T0 + 5 * MIN, 5 * MIN).points
    assert p.rate_per_s == pytest.approx(120 / 300)


@pytest.mark.parametrize(("start", "end", "step", "message"), [
    (T0, T0, None, "must be after"),
    (T0 + 1, T0, 10_000, "must be after"),
    (T0, T0 + MIN, 15_000, "multiple of 10000"),
    (T0, T0 + MIN, 0, "multiple of 10000"),
    (T0, T0 + MIN, -10_000, "multiple of 10000"),
    (T0, T0 + (MAX_POINTS + 1) * 10_000, 10_000, f"at most {MAX_POINTS}"),
    (-10_000, T0, None, "start_ms must be >= 0"),
])
def test_bad_ranges_and_steps_are_invalid_input(state: StateDb, start: int, end: int, step: int | None,
                                                message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        TrafficRecorder(state, clock=Clock(T0)).series(CRN, start, end, step)


def test_exactly_max_points_is_allowed(state: StateDb) -> None:
    rec = TrafficRecorder(state, clock=Clock(T0))
    rec.record(CRN, None, 0.01, at_ms=T0)
    assert rec.series(CRN, T0, T0 + MAX_POINTS * 10_000, 10_000).requests == 1


# -- flushing: upserts that add up ---------------------------------------------------------------------------
def test_two_recorders_on_one_file_and_a_restart_add_up(tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    clock = Clock(T0 + MIN)
    rng = np.random.default_rng(5)
    fast, slow = rng.lognormal(math.log(0.005), 0.3, 400), rng.lognormal(math.log(0.2), 0.3, 100)
    with recorder_on(path, clock) as a, recorder_on(path, clock) as b:
        for i, s in enumerate(fast):
            a.record(CRN, None, float(s), at_ms=T0 + i * 10)  # bucket T0 only
        for i, s in enumerate(slow):
            b.record(CRN, "busy", float(s), at_ms=T0 + 5000 + i)
        a.flush()
        b.flush()
        b.record(CRN, None, float(fast[0]), at_ms=T0 + 9999)  # not flushed: b's query sees it, a's cannot yet
        assert b.series(CRN, T0, T0 + MIN).requests == 501
        assert a.series(CRN, T0, T0 + MIN).requests == 500
    with recorder_on(path, clock) as restarted:  # b's last request was lost with it: stop() was never called
        restarted.record(CRN, None, float(fast[1]), at_ms=T0 + 9000)
        restarted.flush()
        assert stored_rows(restarted.state) == [(T0, 501, 100, T0 + 9000)]
        (p,) = restarted.series(CRN, T0, T0 + MIN, 10_000).points
        everything = np.concatenate([fast, slow, fast[1:2]])
        true = np.percentile(everything, [50, 95, 99]) * 1000
        assert (np.abs(np.array([p.p50_ms, p.p95_ms, p.p99_ms]) - true) / true <= MAX_RELATIVE_ERROR).all()
        assert p.errors == 100 and p.error_rate == pytest.approx(100 / 501, abs=1e-6)


def test_the_thread_flushes_on_its_own_and_stop_flushes_the_rest(state: StateDb) -> None:
    rec = TrafficRecorder(state, flush_every_s=0.05, clock=Clock(T0))
    rec.start()
    try:
        rec.record(CRN, None, 0.01, at_ms=T0)
        wait_until(lambda: stored_rows(state), 10, what="the background flush")
    finally:
        rec.stop()
    slow = TrafficRecorder(state, flush_every_s=3600, clock=Clock(T0))
    slow.start()
    slow.record(CRN, "timeout", 0.01, at_ms=T0 + 10_000)
    slow.stop()
    assert stored_rows(state) == [(T0, 1, 0, T0), (T0 + 10_000, 1, 1, T0 + 10_000)]
    slow.stop()  # twice is harmless


def test_a_failed_flush_keeps_the_counts_for_the_next(state: StateDb, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = TrafficRecorder(state, clock=Clock(T0))
    rec.record(CRN, None, 0.01, at_ms=T0)
    rec.record(CRN, "busy", 0.02, at_ms=T0 + 1)

    @contextmanager
    def locked() -> Iterator[sqlite3.Connection]:
        raise sqlite3.OperationalError("database is locked")
        yield state.conn()

    with monkeypatch.context() as m:
        m.setattr(state, "tx", locked)
        with pytest.raises(sqlite3.OperationalError):
            rec.flush()
    assert rec.series(CRN, T0, T0 + MIN).requests == 2  # still visible, from memory
    rec.record(CRN, None, 0.03, at_ms=T0 + 2)
    assert rec.flush() == 1
    assert stored_rows(state) == [(T0, 3, 1, T0 + 2)]


def test_queries_during_flushes_see_every_request_exactly_once(state: StateDb) -> None:
    rec = TrafficRecorder(state, flush_every_s=0.001, clock=Clock(T0 + MIN))
    started = finished = 0
    done = threading.Event()

    def record() -> None:
        nonlocal started, finished
        for i in range(4000):
            started += 1
            rec.record(CRN, None, 0.001, at_ms=T0 + (i % 6) * 10_000)
            finished += 1
        done.set()

    rec.start()
    t = threading.Thread(target=record)
    try:
        t.start()
        while not done.is_set():
            before = finished
            seen = rec.series(CRN, T0, T0 + MIN, 10_000).requests
            after = started
            assert before <= seen <= after
        t.join()
    finally:
        rec.stop()
    assert rec.series(CRN, T0, T0 + MIN, 10_000).requests == 4000
    assert sum(r[1] for r in stored_rows(state)) == 4000


def test_last_request_ms_from_memory_then_from_the_table(tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    with recorder_on(path, Clock(T0)) as rec:
        assert rec.last_request_ms(CRN) is None
        rec.record(CRN, None, 0.01, at_ms=T0 + 123)
        rec.record(CRN, None, 0.01, at_ms=T0 + 45)
        assert rec.last_request_ms(CRN) == T0 + 123
        rec.flush()
    with recorder_on(path, Clock(T0)) as later:
        assert later.last_request_ms(CRN) == T0 + 123 and later.last_request_ms(OTHER) is None
