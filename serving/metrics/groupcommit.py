"""Group commit: one writer thread turns writes from many threads / asyncio tasks into few transactions.

Callers enqueue an operation and get a ``concurrent.futures.Future``; the writer thread takes *everything* queued
at that moment (up to ``max_batch`` records), applies it in one transaction and resolves the futures only after
COMMIT returned. There is no linger timer: an idle store writes a lone record at once, and a busy store batches
exactly what piled up during the previous commit - latency is never traded for throughput on purpose.

Failure isolation: an expected per-item failure (unknown UUID in a merge) never touches the database and fails
only its own future. Anything else (a duplicate UUID, a lost connection) rolls the batch back and replays each
item once in its own transaction, so one bad record fails only its own caller. The one ambiguous case is a
connection lost *during* COMMIT (the server may have committed): the replay then reports DuplicatePrediction
for a prediction that is in fact stored, or stores an aggregate twice. Merges are idempotent.

A blocking caller may also commit in its own thread (:meth:`GroupCommitter.insert_wait`): when nothing is queued
and no transaction is running, handing the record to the writer thread and waiting for it to come back costs two
thread wake-ups for nothing to batch with. The session is only ever used by one thread at a time (``_busy``), and
a write made inline has the same failure handling as one made by the writer.

The queue is bounded by records, not operations: a full queue blocks ``submit`` (backpressure) up to the caller's
timeout. A bulk write larger than the bound is admitted once the queue is empty, so it cannot starve forever.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from serving.metrics.errors import MetricsQueueFull, MetricsStoreClosed, UnknownPrediction
from serving.metrics.models import MetricRecord


class Encoded(NamedTuple):
    """A validated record plus its metrics as JSON text, encoded in the caller's thread (off the writer)."""

    record: MetricRecord
    metrics_json: str


class WriterSession(Protocol):
    """The backend half of group commit: one connection, used by one thread at a time (the writer thread, or a
    caller of insert_wait writing inline while the writer is idle)."""

    def begin(self) -> None: ...
    def insert(self, rows: Sequence[Encoded]) -> None:
        """Insert inside the transaction opened by begin()."""
        ...
    def insert_atomic(self, rows: Sequence[Encoded]) -> None:
        """Insert as one transaction of its own, committed on return (the common batch: inserts only)."""
        ...
    def merge(self, prediction_uuid: str, patch: Mapping[str, Any], patch_json: str) -> MetricRecord:
        """Merge ``patch`` into the prediction's metrics; raise UnknownPrediction *before* writing anything."""
        ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def translate(self, exc: Exception) -> Exception:
        """The store error a caller should see for a backend exception."""
        ...
    def close(self) -> None: ...


@dataclass(slots=True)
class _Insert:
    rows: Sequence[Encoded]
    future: Future[None]


@dataclass(slots=True)
class _Merge:
    prediction_uuid: str
    patch: Mapping[str, Any]
    patch_json: str
    future: Future[MetricRecord]


_Op = _Insert | _Merge


class CommitStats(NamedTuple):
    transactions: int
    operations: int
    records: int


class GroupCommitter:
    def __init__(self, session: WriterSession, *, max_batch: int = 5000, max_queue: int = 50_000,
                 name: str = "metrics-writer") -> None:
        self._session = session
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._queue: deque[tuple[_Op, int]] = deque()
        self._pending = 0  # records queued, not yet taken by the writer
        self._closed = False
        self._dead: BaseException | None = None
        self._inflight: list[_Op] = []
        self._busy = False  # a thread (the writer, or a caller writing inline) is using the session
        self._transactions = self._operations = self._records = 0
        # daemon: a process that exits without close() must not hang on an idle writer; nothing it had not yet
        # committed was ever confirmed to a caller.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---- caller side

    def insert(self, rows: Sequence[Encoded], timeout: float | None = None) -> Future[None]:
        future: Future[None] = Future()
        self._enqueue(_Insert(rows, future), len(rows), timeout)
        return future

    def insert_wait(self, rows: Sequence[Encoded], timeout: float | None = None) -> None:
        """Insert and return once committed. Written in the calling thread when the store is idle, else handed
        to the writer to share the next transaction (``timeout`` as for :meth:`insert`)."""
        with self._lock:
            inline = not self._busy and not self._queue and not self._closed and self._dead is None
            if inline:
                self._busy = True
        if not inline:
            self.insert(rows, timeout).result()
            return
        op = _Insert(rows, Future())
        try:
            self._write([op])
        finally:
            with self._lock:
                self._busy = False
                if self._queue or self._closed:
                    self._not_empty.notify()
        op.future.result()

    def merge(self, prediction_uuid: str, patch: Mapping[str, Any], patch_json: str,
              timeout: float | None = None) -> Future[MetricRecord]:
        future: Future[MetricRecord] = Future()
        self._enqueue(_Merge(prediction_uuid, patch, patch_json, future), 1, timeout)
        return future

    def stats(self) -> CommitStats:
        return CommitStats(self._transactions, self._operations, self._records)

    def close(self) -> None:
        """Stop accepting work, write everything already queued, stop the writer and its connection."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _enqueue(self, op: _Op, weight: int, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._closed or self._dead is not None:
                    raise MetricsStoreClosed(self._closed_reason())
                if self._pending == 0 or self._pending + weight <= self._max_queue:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise MetricsQueueFull(
                        f"metrics write queue full ({self._pending} records waiting); try again later")
                self._not_full.wait(remaining)
            self._queue.append((op, weight))
            self._pending += weight
            self._not_empty.notify()

    def _closed_reason(self) -> str:
        if self._dead is not None:
            return f"metrics store writer stopped after an internal error: {self._dead!r}"
        return "metrics store is closed"

    # ---- writer side

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._inflight = batch
                try:
                    self._write(batch)
                finally:
                    with self._lock:
                        self._busy = False
                self._inflight = []  # kept on the way out of a failure: _die() fails those callers
        except BaseException as exc:  # noqa: BLE001 - a bug or a shutdown: never leave a caller waiting forever
            self._die(exc)
        finally:
            self._session.close()

    def _take(self) -> list[_Op] | None:
        with self._lock:
            while self._busy or not self._queue:
                if self._closed and not self._queue and not self._busy:
                    return None  # an inline write still running keeps the session open until it is done
                self._not_empty.wait()
            self._busy = True
            batch: list[_Op] = []
            taken = 0
            while self._queue and (not batch or taken + self._queue[0][1] <= self._max_batch):
                op, weight = self._queue.popleft()
                batch.append(op)
                taken += weight
            self._pending -= taken
            self._not_full.notify_all()
            return batch

    def _write(self, batch: list[_Op]) -> None:
        # A future cancelled while queued (e.g. the awaiting asyncio task was cancelled) is not written at all.
        live = [op for op in batch if op.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            outcomes = self._apply(live)
        except Exception:  # noqa: BLE001 - whatever failed the batch, each op is retried alone just below
            self._rollback()
            # Each op again, alone: a bad record fails only itself, and after a lost connection (the backend
            # reconnects in begin()) the batch goes through instead of failing.
            outcomes = [self._apply_alone(op) for op in live]
        for op, outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                op.future.set_exception(outcome)
            elif isinstance(op, _Merge):
                assert isinstance(outcome, MetricRecord)
                op.future.set_result(outcome)
            else:
                op.future.set_result(None)

    def _apply_alone(self, op: _Op) -> object:
        try:
            return self._apply([op])[0]
        except Exception as exc:  # noqa: BLE001 - handed to the op's caller, as the store's own error
            self._rollback()
            return self._session.translate(exc)

    def _apply(self, ops: list[_Op]) -> list[object]:
        """Apply ``ops`` in order in one transaction; consecutive inserts go to the backend as one bulk insert."""
        session = self._session
        if all(isinstance(op, _Insert) for op in ops):
            rows = [row for op in ops if isinstance(op, _Insert) for row in op.rows]
            session.insert_atomic(rows)
            self._count(len(ops), len(rows))
            return [None] * len(ops)
        session.begin()
        outcomes: list[object] = []
        run: list[Encoded] = []
        records = 0
        for op in ops:
            if isinstance(op, _Insert):
                run.extend(op.rows)
                outcomes.append(None)
                continue
            if run:
                session.insert(run)
                records += len(run)
                run = []
            try:
                outcomes.append(session.merge(op.prediction_uuid, op.patch, op.patch_json))
            except UnknownPrediction as exc:
                outcomes.append(exc)
        if run:
            session.insert(run)
            records += len(run)
        session.commit()
        self._count(len(ops), records)
        return outcomes

    def _count(self, operations: int, records: int) -> None:
        self._transactions += 1
        self._operations += operations
        self._records += records

    def _rollback(self) -> None:
        # the connection may be gone; the backend reconnects on the next begin()
        with contextlib.suppress(Exception):
            self._session.rollback()

    def _die(self, exc: BaseException) -> None:
        with self._lock:
            self._dead = exc
            stranded = [op for op, _ in self._queue] + self._inflight
            self._queue.clear()
            self._pending = 0
            self._not_full.notify_all()
        error = MetricsStoreClosed(self._closed_reason())
        for op in stranded:
            # Queued ops were never set running; cancelled ones are done already and stay cancelled.
            if not op.future.done() and (op.future.running() or op.future.set_running_or_notify_cancel()):
                op.future.set_exception(error)
