"""The group-commit writer against a scripted in-memory session: batching, backpressure, failure isolation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, wait
from typing import Any

import pytest

from serving.metrics import DuplicatePrediction, MetricRecord, MetricsQueueFull, MetricsStoreClosed, UnknownPrediction
from serving.metrics.groupcommit import Encoded, GroupCommitter

from .conftest import Crns


class FakeSession:
    """Records committed rows; ``gate`` (when set) holds the writer inside begin() until released."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.staged: list[str] = []
        self.transactions: list[list[str]] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail_on: set[str] = set()
        self.die_on: set[str] = set()
        self.closed = False
        self.committed_by: list[str] = []  # the thread name of each COMMIT
        self.overlaps = 0  # begin() while another thread's transaction was open: the session is single-threaded
        self._open = False

    def begin(self) -> None:
        if self._open or self.closed:
            self.overlaps += 1
        self._open = True
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
            self.gate = None

    def insert(self, rows: Sequence[Encoded]) -> None:
        for row in rows:
            uuid = str(row.record.prediction_uuid)
            if uuid in self.die_on:
                raise Boom(uuid)
            if uuid in self.fail_on or uuid in self.committed or uuid in self.staged:
                raise ValueError(f"duplicate {uuid}")
            self.staged.append(uuid)

    def insert_atomic(self, rows: Sequence[Encoded]) -> None:
        self.begin()
        try:
            self.insert(rows)
        except Exception:
            self.rollback()
            raise
        self.commit()

    def merge(self, prediction_uuid: str, patch: Mapping[str, Any], patch_json: str) -> MetricRecord:
        if prediction_uuid not in self.committed + self.staged:
            raise UnknownPrediction(prediction_uuid)
        return Crns.fresh().record(1, dict(patch), prediction_uuid=prediction_uuid)

    def commit(self) -> None:
        self._open = False
        self.committed_by.append(threading.current_thread().name)
        self.transactions.append(self.staged)
        self.committed += self.staged
        self.staged = []

    def rollback(self) -> None:
        self._open = False
        self.staged = []

    def translate(self, exc: Exception) -> Exception:
        return DuplicatePrediction(str(exc)) if isinstance(exc, ValueError) else exc

    def close(self) -> None:
        self.closed = True


class Boom(BaseException):
    """Not an Exception: stands for a bug or interpreter shutdown that kills the writer thread."""


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def make_committer(session: FakeSession) -> Iterator[Any]:
    made: list[GroupCommitter] = []

    def _make(**kwargs: Any) -> GroupCommitter:
        committer = GroupCommitter(session, **kwargs)
        made.append(committer)
        return committer

    yield _make
    if session.gate is not None:
        session.gate.set()
    for committer in made:
        committer.close()


def rows(crns: Crns, n: int, prefix: str = "p") -> list[Encoded]:
    return [Encoded(crns.record(i, {"i": i}, prediction_uuid=f"{prefix}{i}"), "{}") for i in range(n)]


def hold_writer(session: FakeSession, committer: GroupCommitter, crns: Crns) -> tuple[threading.Event, Future[None]]:
    """Make the writer busy in a transaction (a first record) until the returned event is set."""
    gate = threading.Event()
    session.gate = gate
    first = committer.insert(rows(crns, 1, "first"))
    assert session.entered.wait(5)
    return gate, first


def test_idle_writer_commits_a_lone_record_at_once(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer()
    started = time.monotonic()
    committer.insert(rows(crns, 1)).result(timeout=5)
    assert time.monotonic() - started < 0.5
    assert session.transactions == [["p0"]]


def test_records_queued_while_writer_is_busy_share_one_transaction(session: FakeSession, make_committer: Any,
                                                                    crns: Crns) -> None:
    committer = make_committer()
    gate, first = hold_writer(session, committer, crns)
    futures = [committer.insert([row]) for row in rows(crns, 50)]
    assert not any(f.done() for f in futures)  # nothing resolves before its COMMIT
    gate.set()
    wait([first, *futures], timeout=5)
    assert all(f.result() is None for f in futures)
    assert session.transactions == [["first0"], [f"p{i}" for i in range(50)]]
    assert committer.stats().transactions == 2 and committer.stats().records == 51


def test_max_batch_splits_a_long_queue(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer(max_batch=10)
    gate, _ = hold_writer(session, committer, crns)
    futures = [committer.insert([row]) for row in rows(crns, 25)]
    gate.set()
    wait(futures, timeout=5)
    assert [len(t) for t in session.transactions] == [1, 10, 10, 5]


def test_full_queue_blocks_then_raises_queue_full_after_timeout(session: FakeSession, make_committer: Any,
                                                                crns: Crns) -> None:
    committer = make_committer(max_queue=10)
    gate, _ = hold_writer(session, committer, crns)
    queued = [committer.insert([row]) for row in rows(crns, 10)]
    started = time.monotonic()
    with pytest.raises(MetricsQueueFull):
        committer.insert(rows(crns, 1, "late"), timeout=0.2)
    assert time.monotonic() - started >= 0.2
    with pytest.raises(MetricsQueueFull):
        committer.insert(rows(crns, 1, "late"), timeout=0)
    blocked: list[Future[None]] = []
    waiter = threading.Thread(target=lambda: blocked.append(committer.insert(rows(crns, 1, "blocked"))))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive()  # backpressure: the caller waits for room
    gate.set()
    waiter.join(5)
    wait([*queued, *blocked], timeout=5)
    assert "blocked0" in session.committed


def test_bulk_write_larger_than_the_queue_is_admitted_when_the_queue_is_empty(session: FakeSession,
                                                                                make_committer: Any,
                                                                                crns: Crns) -> None:
    committer = make_committer(max_queue=10, max_batch=10)
    committer.insert(rows(crns, 100)).result(timeout=5)
    assert [len(t) for t in session.transactions] == [100]  # one op = one transaction, all or nothing


def test_a_failing_record_fails_alone_and_its_neighbours_commit(session: FakeSession, make_committer: Any,
                                                                 crns: Crns) -> None:
    committer = make_committer()
    gate, _ = hold_writer(session, committer, crns)
    session.fail_on = {"p3"}
    futures = [committer.insert([row]) for row in rows(crns, 6)]
    gate.set()
    wait(futures, timeout=5)
    assert isinstance(futures[3].exception(), DuplicatePrediction)
    assert [f.exception() for i, f in enumerate(futures) if i != 3] == [None] * 5
    assert sorted(session.committed) == sorted(["first0", "p0", "p1", "p2", "p4", "p5"])


def test_unknown_uuid_in_a_merge_does_not_roll_back_the_batch(session: FakeSession, make_committer: Any,
                                                              crns: Crns) -> None:
    committer = make_committer()
    gate, _ = hold_writer(session, committer, crns)
    inserted = committer.insert(rows(crns, 1))
    merged = committer.merge("p0", {"actual": 1}, '{"actual": 1}')  # same batch, after its insert
    unknown = committer.merge("nope", {"actual": 1}, '{"actual": 1}')
    after = committer.insert(rows(crns, 1, "q"))
    gate.set()
    wait([inserted, merged, unknown, after], timeout=5)
    assert merged.result().metrics == {"actual": 1}
    assert isinstance(unknown.exception(), UnknownPrediction)
    assert session.transactions[1] == ["p0", "q0"]


def test_a_cancelled_submission_is_not_written(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer()
    gate, _ = hold_writer(session, committer, crns)
    cancelled, kept = committer.insert(rows(crns, 1, "c")), committer.insert(rows(crns, 1, "k"))
    assert cancelled.cancel()
    gate.set()
    kept.result(timeout=5)
    assert "c0" not in session.committed and "k0" in session.committed


def test_close_writes_everything_queued_then_refuses(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer()
    gate, _ = hold_writer(session, committer, crns)
    futures = [committer.insert([row]) for row in rows(crns, 20)]
    closer = threading.Thread(target=committer.close)
    closer.start()
    gate.set()
    closer.join(5)
    assert all(f.done() and f.exception() is None for f in futures)
    assert session.closed
    with pytest.raises(MetricsStoreClosed):
        committer.insert(rows(crns, 1, "late"))


def test_a_dead_writer_fails_every_waiting_caller(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer()
    gate, _ = hold_writer(session, committer, crns)
    session.die_on = {"p0"}
    futures = [committer.insert([row]) for row in rows(crns, 3)]
    gate.set()
    wait(futures, timeout=5)
    assert all(isinstance(f.exception(), MetricsStoreClosed) for f in futures)
    with pytest.raises(MetricsStoreClosed, match="internal error"):
        committer.insert(rows(crns, 1, "late"))
    assert session.closed


def test_insert_wait_on_an_idle_store_commits_in_the_calling_thread(session: FakeSession, make_committer: Any,
                                                                    crns: Crns) -> None:
    committer = make_committer(name="the-writer")
    committer.insert_wait(rows(crns, 2))
    assert session.transactions == [["p0", "p1"]]
    assert session.committed_by == [threading.current_thread().name]
    assert committer.stats() == (1, 1, 2)


def test_insert_wait_while_the_writer_is_busy_joins_the_next_group_commit(session: FakeSession, make_committer: Any,
                                                                          crns: Crns) -> None:
    committer = make_committer(name="the-writer")
    gate, first = hold_writer(session, committer, crns)
    waiter = threading.Thread(target=committer.insert_wait, args=(rows(crns, 1, "w"),))
    waiter.start()
    queued = [committer.insert([row]) for row in rows(crns, 3)]
    gate.set()
    waiter.join(5)
    wait([first, *queued], timeout=5)
    assert not waiter.is_alive()
    assert sorted(session.transactions[1]) == ["p0", "p1", "p2", "w0"]  # one transaction for all four
    assert session.committed_by == ["the-writer", "the-writer"] and session.overlaps == 0


def test_records_queued_during_an_inline_write_wait_for_it(session: FakeSession, make_committer: Any,
                                                           crns: Crns) -> None:
    committer = make_committer(name="the-writer")
    gate = threading.Event()
    session.gate = gate
    inline = threading.Thread(target=committer.insert_wait, args=(rows(crns, 1, "i"),), name="caller")
    inline.start()
    assert session.entered.wait(5)  # the caller is inside its own transaction
    queued = [committer.insert([row]) for row in rows(crns, 5)]
    time.sleep(0.05)
    assert not any(f.done() for f in queued) and session.overlaps == 0  # the writer waits for the session
    gate.set()
    inline.join(5)
    wait(queued, timeout=5)
    assert session.transactions == [["i0"], [f"p{i}" for i in range(5)]]
    assert session.committed_by == ["caller", "the-writer"] and session.overlaps == 0


def test_insert_wait_fails_alone_like_a_queued_insert(session: FakeSession, make_committer: Any, crns: Crns) -> None:
    committer = make_committer()
    committer.insert_wait(rows(crns, 1))
    with pytest.raises(DuplicatePrediction):
        committer.insert_wait(rows(crns, 1))
    committer.insert_wait(rows(crns, 1, "next"))  # the session is usable again: the failed one was rolled back
    assert session.committed == ["p0", "next0"]


def test_close_during_an_inline_write_lets_it_finish_first(session: FakeSession, make_committer: Any,
                                                            crns: Crns) -> None:
    committer = make_committer()
    gate = threading.Event()
    session.gate = gate
    inline = threading.Thread(target=committer.insert_wait, args=(rows(crns, 1, "i"),))
    inline.start()
    assert session.entered.wait(5)
    closer = threading.Thread(target=committer.close)
    closer.start()
    closer.join(0.1)
    assert closer.is_alive() and not session.closed  # the session stays open under the running transaction
    gate.set()
    inline.join(5)
    closer.join(5)
    assert session.committed == ["i0"] and session.closed and session.overlaps == 0
    with pytest.raises(MetricsStoreClosed):
        committer.insert_wait(rows(crns, 1, "late"))
