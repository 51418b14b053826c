"""What both backends share: argument checks, encoding in the caller's thread, and the group-commit writer.

A backend supplies a :class:`~serving.metrics.groupcommit.WriterSession` (its one write connection) and
``_read``; everything else about the contract lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from serving.metrics.errors import InvalidMetrics, MetricsStoreClosed
from serving.metrics.groupcommit import CommitStats, Encoded, GroupCommitter, WriterSession
from serving.metrics.models import MetricRecord, encode_metrics, normalize_metrics
from serving.metrics.store import ReadQuery


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
        if self._closed:
            raise MetricsStoreClosed("metrics store is closed")
        return self._read(query)

    @abstractmethod
    def _read(self, query: ReadQuery) -> list[MetricRecord]: ...

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
