"""Request traffic per deployment over time: request rate, errors and latency percentiles, persisted.

The gateway calls :meth:`TrafficRecorder.record` once per finished model request. Calls accumulate in memory per
(deployment CRN, 10-second bucket aligned to the epoch) and a background thread adds them to the ``traffic`` table
of the platform state every ~2 s, so the request path never waits for SQLite. A flush adds its counts to what is
stored (read, merge, write in one ``BEGIN IMMEDIATE`` transaction): several processes sharing the store file, and
restarts within a bucket, add up instead of overwriting each other.

Latency is kept as a fixed log-scale histogram: bin 0 holds [0, 0.1 ms), bin i holds [0.1 ms * G^(i-1),
0.1 ms * G^i) with G = 1.15, up to the first bound past 120 s (about 135 s), and the last bin everything above.
Histograms of the same layout merge by adding counts, so any range and any step is answered exactly from the
10-second buckets. A percentile is read as :func:`numpy.percentile` reads it (linear between the order statistics
around rank (n - 1) * q), with each order statistic placed inside its bin geometrically, the k-th of a bin's c
values at ``lower * G ** ((k + 0.5) / c)``. The estimate and the true order statistic then share a bin, so
**the worst-case relative error is G - 1 = 15 %** for latencies between 0.1 ms and ~135 s (a lone value in its
bin is read at the bin's geometric middle, within sqrt(G) - 1 = 7.2 %). Below 0.1 ms the error is under 0.1 ms
absolute; latencies above the last bound read as that bound.

Requests that no deployment answered for (a bad access key, malformed JSON) are the gateway's business, not a
deployment's, and are never recorded here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from catalog import InvalidInput
from serving.platform.state import State

log = logging.getLogger(__name__)

BUCKET_MS = 10_000
FLUSH_EVERY_S = 2.0
MAX_POINTS = 10_000
TARGET_POINTS = 240
DEFAULT_RANGE_MS = 3_600_000
GROWTH = 1.15
LOWEST_S = 1e-4
HIGHEST_S = 120.0
FINITE = math.ceil(math.log(HIGHEST_S / LOWEST_S) / math.log(GROWTH))  # bins with a finite upper bound after bin 0
NBINS = FINITE + 2  # [0, LOWEST) + FINITE log bins + the overflow bin
MAX_RELATIVE_ERROR = GROWTH - 1
QUANTILES = (0.50, 0.95, 0.99)
# Steps a chart reads well, every one a multiple of the bucket; beyond a day, whole days.
NICE_STEPS_MS = (10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
                 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000)

_LOG_LOWEST = math.log(LOWEST_S)
_PER_LOG = 1 / math.log(GROWTH)
# lower edge of each bin, in seconds: 0, LOWEST, LOWEST * G, ..., LOWEST * G^FINITE (the overflow bin's)
_LOWER = np.concatenate(([0.0], LOWEST_S * GROWTH ** np.arange(FINITE + 1)))
# the stored histogram: sparse (bin, count) pairs, 5 bytes each, packed
_PAIR = np.dtype([("i", "u1"), ("c", "<u4")])

Floats = npt.NDArray[np.float64]


def bin_of(seconds: float) -> int:
    """The histogram bin of a latency."""
    if seconds < LOWEST_S:
        return 0
    b = int((math.log(seconds) - _LOG_LOWEST) * _PER_LOG) + 1
    return b if b < NBINS else NBINS - 1


def encode(counts: Sequence[int] | npt.NDArray[np.int64]) -> bytes:
    """A dense histogram (NBINS counts) as its packed non-zero (bin, count) pairs."""
    dense = np.asarray(counts, dtype=np.int64)
    nz = np.flatnonzero(dense)
    pairs = np.empty(len(nz), dtype=_PAIR)
    pairs["i"] = nz
    pairs["c"] = dense[nz]
    return pairs.tobytes()


def decode(blob: bytes) -> npt.NDArray[np.int64]:
    """The dense histogram (NBINS counts) of a packed one."""
    pairs = np.frombuffer(blob, dtype=_PAIR)
    dense = np.zeros(NBINS, dtype=np.int64)
    np.add.at(dense, pairs["i"].astype(np.intp), pairs["c"].astype(np.int64))
    return dense


def _order_statistics(hist: Floats, cum: Floats, k: Floats) -> Floats:
    """Per row of ``hist``, the estimated k-th smallest value (0-based rank ``k``, a whole number)."""
    rows = np.arange(hist.shape[0])
    b = (cum <= k[:, None]).sum(axis=1)  # the bin holding rank k: cum[b - 1] <= k < cum[b]
    below = np.where(b > 0, cum[rows, np.maximum(b - 1, 0)], 0.0)
    position = (k - below + 0.5) / hist[rows, b]
    lower = _LOWER[b]
    inside = np.where(b == 0, LOWEST_S * position, lower * GROWTH ** position)
    value: Floats = np.where(b == NBINS - 1, lower, inside)
    return value


def quantiles(hist: npt.ArrayLike, qs: Sequence[float] = QUANTILES) -> Floats:
    """Estimated latency quantiles in seconds, shape (rows, len(qs)), of histograms shaped (rows, NBINS); every row
    must hold at least one value. See the module docstring for the error bound."""
    h = np.atleast_2d(np.asarray(hist, dtype=np.float64))
    n = h.sum(axis=1)
    cum = np.cumsum(h, axis=1)
    out = np.empty((h.shape[0], len(qs)))
    for j, q in enumerate(qs):
        rank = (n - 1) * q
        lo = np.floor(rank)
        v_lo = _order_statistics(h, cum, lo)
        v_hi = _order_statistics(h, cum, np.minimum(lo + 1, n - 1))
        out[:, j] = v_lo + (rank - lo) * (v_hi - v_lo)
    return out


class TrafficPoint(BaseModel):
    t_ms: int = Field(description="start of the step, epoch ms")
    requests: int
    errors: int
    error_rate: float = Field(description="errors / requests")
    rate_per_s: float = Field(description="requests per second over the step (the part of it elapsed, for the "
                                          "step in progress)")
    p50_ms: float
    p95_ms: float
    p99_ms: float


class TrafficSeries(BaseModel):
    crn: str
    start_ms: int = Field(description="the range asked for, widened to whole steps (aligned to the epoch)")
    end_ms: int
    step_ms: int
    requests: int = Field(description="over the whole range")
    errors: int
    points: list[TrafficPoint] = Field(description="one per step that saw requests, in time order")


def default_step(span_ms: int) -> int:
    """The smallest readable step that gives at most about TARGET_POINTS points over ``span_ms``."""
    wanted = span_ms / TARGET_POINTS
    for step in NICE_STEPS_MS:
        if step >= wanted:
            return step
    return math.ceil(wanted / NICE_STEPS_MS[-1]) * NICE_STEPS_MS[-1]


def _check_range(start_ms: int, end_ms: int, step_ms: int | None) -> int:
    if start_ms < 0:
        raise InvalidInput(f"start_ms must be >= 0 (got {start_ms})")
    if end_ms <= start_ms:
        raise InvalidInput(f"end_ms ({end_ms}) must be after start_ms ({start_ms})")
    if step_ms is None:
        return default_step(end_ms - start_ms)
    if step_ms <= 0 or step_ms % BUCKET_MS:
        raise InvalidInput(f"step_ms must be a positive multiple of {BUCKET_MS} (got {step_ms})")
    points = -(-end_ms // step_ms) - start_ms // step_ms
    if points > MAX_POINTS:
        raise InvalidInput(f"{points} points of {step_ms} ms over this range; at most {MAX_POINTS}: "
                           "give a larger step_ms or a shorter range")
    return step_ms


class _Bucket:
    __slots__ = ("errors", "hist", "last_ms", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.last_ms = 0
        self.hist = [0] * NBINS

    def add(self, other: _Bucket) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.last_ms = max(self.last_ms, other.last_ms)
        self.hist = [a + b for a, b in zip(self.hist, other.hist, strict=True)]


Key = tuple[str, int]  # (deployment CRN, bucket start ms)


class TrafficRecorder:
    """Records finished model requests per deployment and answers their series; see the module docstring."""

    def __init__(self, state: State, *, flush_every_s: float = FLUSH_EVERY_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.flush_every_s = flush_every_s
        self.clock = clock
        self._lock = threading.Lock()  # guards _pending and _last; held for microseconds only
        # Held by a flush from taking the pending buckets until they are committed, and by a query while it reads
        # the table and the pending buckets: a query sees every request exactly once.
        self._flush_lock = threading.Lock()
        self._pending: dict[Key, _Bucket] = {}
        self._last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ---------------------------------------------------------------------------
    def record(self, crn: str, error_kind: str | None, seconds: float, *, at_ms: int | None = None) -> None:
        """One finished request of deployment ``crn``: ``error_kind`` None for a success; ``at_ms`` defaults to
        now."""
        now = int(self.clock() * 1000) if at_ms is None else at_ms
        key = (crn, now - now % BUCKET_MS)
        b = bin_of(seconds)
        with self._lock:
            bucket = self._pending.get(key)
            if bucket is None:
                bucket = self._pending[key] = _Bucket()
            bucket.requests += 1
            if error_kind is not None:
                bucket.errors += 1
            bucket.hist[b] += 1
            if now > bucket.last_ms:
                bucket.last_ms = now
            if now > self._last.get(crn, 0):
                self._last[crn] = now

    # -- flushing -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="traffic-flush", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and flushes what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        except self.state.errors as e:
            log.error("traffic of the last seconds could not be saved: %s", e)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            try:
                self.flush()
            except self.state.errors as e:  # kept in memory for the next flush
                log.warning("traffic flush failed, retrying in %.0f s: %s", self.flush_every_s, e)

    def flush(self) -> int:
        """Adds the pending buckets to the table now; how many (deployment, bucket) rows were written."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return 0
            try:
                self._write(pending)
            except BaseException:
                with self._lock:
                    for key, bucket in pending.items():
                        newer = self._pending.get(key)
                        if newer is not None:
                            bucket.add(newer)
                        self._pending[key] = bucket
                raise
            return len(pending)

    def _write(self, pending: dict[Key, _Bucket]) -> None:
        with self.state.tx() as c:
            c.serialize("traffic")  # instances sharing the state add to the same rows: one flush at a time
            for (crn, bucket_ms), b in pending.items():
                row = c.execute("SELECT requests, errors, last_ms, latency FROM traffic "
                                "WHERE crn = ? AND bucket_ms = ?", (crn, bucket_ms)).fetchone()
                requests, errors, last_ms, hist = b.requests, b.errors, b.last_ms, np.asarray(b.hist, dtype=np.int64)
                if row is not None:
                    requests += row[0]
                    errors += row[1]
                    last_ms = max(last_ms, row[2])
                    hist += decode(bytes(row[3]))
                c.execute("INSERT INTO traffic (crn, bucket_ms, requests, errors, last_ms, latency) "
                          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (crn, bucket_ms) DO UPDATE SET "
                          "requests = excluded.requests, errors = excluded.errors, last_ms = excluded.last_ms, "
                          "latency = excluded.latency", (crn, bucket_ms, requests, errors, last_ms, encode(hist)))

    # -- queries ------------------------------------------------------------------------------------
    def last_request_ms(self, crn: str) -> int | None:
        """When deployment ``crn`` last finished a request (epoch ms), by this process or any sharing the store."""
        row = self.state.conn().execute("SELECT last_ms FROM traffic WHERE crn = ? ORDER BY bucket_ms DESC LIMIT 1",
                                        (crn,)).fetchone()
        with self._lock:
            here = self._last.get(crn)
        known = [x for x in (here, None if row is None else int(row[0])) if x is not None]
        return max(known) if known else None

    def series(self, crn: str, start_ms: int | None = None, end_ms: int | None = None,
               step_ms: int | None = None) -> TrafficSeries:
        """Deployment ``crn``'s traffic over [start_ms, end_ms) (default: the last hour) in steps of ``step_ms``
        (a multiple of 10 s; default: a readable step giving at most ~240 points), aligned to the epoch. The
        requests not flushed yet are included. InvalidInput for a bad range or step."""
        now = int(self.clock() * 1000)
        end = now if end_ms is None else end_ms
        start = max(0, end - DEFAULT_RANGE_MS) if start_ms is None else start_ms
        step = _check_range(start, end, step_ms)
        first, stop = start - start % step, -(-end // step) * step
        with self._flush_lock:
            rows = self._stored(crn, first, stop)
            with self._lock:
                rows += [(k[1], b.requests, b.errors, encode(b.hist)) for k, b in self._pending.items()
                         if k[0] == crn and first <= k[1] < stop]
        points = _points(rows, first, step, now)
        return TrafficSeries(crn=crn, start_ms=first, end_ms=stop, step_ms=step,
                             requests=sum(p.requests for p in points), errors=sum(p.errors for p in points),
                             points=points)

    def _stored(self, crn: str, first: int, stop: int) -> list[tuple[Any, ...]]:
        # plain tuples: a week of buckets is 60k rows
        return self.state.conn().rows("SELECT bucket_ms, requests, errors, latency FROM traffic "
                                      "WHERE crn = ? AND bucket_ms >= ? AND bucket_ms < ?", (crn, first, stop))


def _points(rows: list[tuple[Any, ...]], first: int, step: int, now_ms: int) -> list[TrafficPoint]:
    """Buckets (bucket_ms, requests, errors, packed histogram), any order, possibly several per bucket, merged into
    one point per step (from ``first``) that has any."""
    if not rows:
        return []
    count = len(rows)
    # a column at a time: zip(*rows) over 60k rows costs three times as much
    step_of_row = (np.fromiter((r[0] for r in rows), np.int64, count) - first) // step
    steps, row_step = np.unique(step_of_row, return_inverse=True)
    n = len(steps)
    req = np.bincount(row_step, weights=np.fromiter((r[1] for r in rows), np.float64, count), minlength=n)
    err = np.bincount(row_step, weights=np.fromiter((r[2] for r in rows), np.float64, count), minlength=n)
    blobs = [r[3] for r in rows]
    pairs = np.frombuffer(b"".join(blobs), dtype=_PAIR)
    pair_step = np.repeat(row_step, np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // _PAIR.itemsize)
    hist = np.bincount(pair_step * NBINS + pairs["i"], weights=pairs["c"], minlength=n * NBINS).reshape(n, NBINS)
    q_ms = quantiles(hist) * 1000.0
    t = first + steps * step
    # the step in progress has lasted until the end of the current bucket, not a whole step
    now_edge = (now_ms // BUCKET_MS + 1) * BUCKET_MS
    seconds = np.clip(np.minimum(t + step, now_edge) - t, BUCKET_MS, step) / 1000.0
    return [TrafficPoint(t_ms=int(t[i]), requests=int(req[i]), errors=int(err[i]),
                         error_rate=round(float(err[i] / req[i]), 6), rate_per_s=round(float(req[i] / seconds[i]), 6),
                         p50_ms=round(float(q_ms[i, 0]), 4), p95_ms=round(float(q_ms[i, 1]), 4),
                         p99_ms=round(float(q_ms[i, 2]), 4))
            for i in range(n)]
