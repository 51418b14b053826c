"""What both backends share: argument checks, encoding in the caller's thread, and the group-commit writer.

A backend supplies a :class:`~serving.metrics.groupcommit.WriterSession` (its one write connection) and the read
primitives (``_read``, ``_iter_prediction_metrics``, ``_recent_predictions``, ``_count_predictions``); everything
else about the contract lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from serving.metrics.errors import InvalidMetrics, MetricsStoreClosed
from serving.metrics.groupcommit import CommitStats, Encoded, GroupCommitter, WriterSession
from serving.metrics.models import MetricRecord, encode_metrics, normalize_metrics
from serving.metrics.store import DEFAULT_CHUNK_ROWS, PredictionWindow, ReadQuery, RecentQuery


class GroupCommitStore(ABC):
    def __init__(self, session: WriterSession, *, max_batch: int, max_queue: int, name: str) -> None:
        self._committer = GroupCommitter(session, max_batch=max_batch, max_queue=max_queue, name=name)
        self._closed = False

    # ---- writes (all through the one write session: the writer thread, or a caller writing inline when idle)

    def submit(self, record: MetricRecord, timeout: float | None = None) -> Future[None]:
        return self._committer.insert([_encode(record)], timeout)

    def write(self, record: MetricRecord, timeout: float | None = None) -> None:
        self._committer.insert_wait([_encode(record)], timeout)

    def write_predictions(self, records: Iterable[MetricRecord]) -> None:
        rows = [_encode(r) for r in records]
        if rows:
            self._committer.insert_wait(rows)

    def merge_delayed(self, prediction_uuid: str, metrics: Mapping[str, Any]) -> MetricRecord:
        if not isinstance(prediction_uuid, str) or not prediction_uuid:
            raise InvalidMetrics("prediction_uuid must be a non-empty string")
        try:
            patch = normalize_metrics(metrics)
        except ValueError as exc:
            raise InvalidMetrics(str(exc)) from None
        return self._committer.merge(prediction_uuid, patch, encode_metrics(patch)).result()

    def write_aggregate(self, model_deployment_crn: str, start_ms: int, end_ms: int, metrics: Mapping[str, Any],
                        model_build_crn: str | None = None, model_crn: str | None = None) -> MetricRecord:
        try:
            record = MetricRecord(model_deployment_crn=model_deployment_crn, model_build_crn=model_build_crn,
                                  model_crn=model_crn, prediction_uuid=None, start_ms=start_ms, end_ms=end_ms,
                                  metrics=dict(metrics))
        except ValidationError as exc:
            raise InvalidMetrics(str(exc)) from None
        self.write(record)
        return record

    # ---- reads

    def read(self, model_deployment_crn: str | None = None, start_ms: int = 0, end_ms: int | None = None,
             model_crn: str | None = None, model_build_crn: str | None = None) -> list[MetricRecord]:
        query = ReadQuery.of(model_deployment_crn=model_deployment_crn, model_build_crn=model_build_crn,
                             model_crn=model_crn, start_ms=start_ms, end_ms=end_ms)
        self._check_open()
        return self._read(query)

    def iter_prediction_metrics(self, model_deployment_crn: str, start_ms: int, end_ms: int,
                                chunk_rows: int = DEFAULT_CHUNK_ROWS, *, ordered: bool = True) -> Iterator[bytes]:
        window = PredictionWindow.of(model_deployment_crn=model_deployment_crn, start_ms=start_ms, end_ms=end_ms,
                                     chunk_rows=chunk_rows, ordered=ordered)
        self._check_open()  # here, not in the generator: bad calls fail at the call, not at the first next()
        return self._iter_prediction_metrics(window)

    def recent_predictions(self, model_deployment_crn: str, limit: int = 200) -> list[MetricRecord]:
        query = RecentQuery.of(model_deployment_crn=model_deployment_crn, limit=limit)
        self._check_open()
        return self._recent_predictions(query)

    def count_predictions(self, model_deployment_crn: str, start_ms: int, end_ms: int) -> int:
        window = PredictionWindow.of(model_deployment_crn=model_deployment_crn, start_ms=start_ms, end_ms=end_ms)
        self._check_open()
        return self._count_predictions(window)

    def _check_open(self) -> None:
        """Also called between chunks of a long iteration: closing the store stops it at the next chunk."""
        if self._closed:
            raise MetricsStoreClosed("metrics store is closed")

    @abstractmethod
    def _read(self, query: ReadQuery) -> list[MetricRecord]: ...

    @abstractmethod
    def _iter_prediction_metrics(self, window: PredictionWindow) -> Iterator[bytes]:
        """A generator: the connection is taken at the first next() and released when it ends or is closed."""

    @abstractmethod
    def _recent_predictions(self, query: RecentQuery) -> list[MetricRecord]: ...

    @abstractmethod
    def _count_predictions(self, window: PredictionWindow) -> int: ...

    # ---- lifecycle

    def stats(self) -> CommitStats:
        """Transactions / operations / records written so far (for benchmarks and monitoring)."""
        return self._committer.stats()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._committer.close()
        self._close_readers()

    @abstractmethod
    def _close_readers(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _encode(record: MetricRecord) -> Encoded:
    if not isinstance(record, MetricRecord):
        raise TypeError(f"expected a MetricRecord, got {type(record).__name__}")
    return Encoded(record, encode_metrics(record.metrics))
