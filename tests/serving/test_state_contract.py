"""The platform state's contract, run against every backend: SQLite in the store directory and PostgreSQL.

What several platform instances rely on when they share one state: rows and transactions, locks that exclude
across threads and processes and die with their holder (kill -9), writers of the outbox committing in sequence
order, the outbox delivered once and in order by replayers racing for it, monitor windows claimed once, traffic
counts from several recorders adding up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serving.monitoring.config import MonitorConfig
from serving.monitoring.ledger import Ledger
from serving.monitoring.reference import ReferenceSource, ReferenceSummary
from serving.platform import outbox
from serving.platform.state import State, default_state_url, open_state
from serving.platform.traffic import TrafficRecorder
from tests.metrics.conftest import PgServer, pg_server
from tests.servers import wait_until

__all__ = ["pg_server"]
REPO = Path(__file__).resolve().parents[2]
M = 60_000


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return default_state_url(tmp_path / "store")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create("state")


@pytest.fixture
def opened(state_url: str) -> Iterator[list[State]]:
    states: list[State] = []
    yield states
    for s in states:
        s.close()


@pytest.fixture
def state(state_url: str, opened: list[State]) -> State:
    s = open_state(state_url)
    opened.append(s)
    return s


@pytest.fixture
def other(state: State, state_url: str, opened: list[State]) -> State:
    """A second opener of the same state: another platform instance."""
    s = open_state(state_url)
    opened.append(s)
    return s


def _deployment(c: Any, crn: str) -> None:
    c.execute("INSERT INTO deployment (crn, name, model_name, model_crn, build_crn, project_crn, project_dir, "
              "commit_sha, file, function, access_key_hash, access_key_hint, auth_enabled, replicas, "
              "cpu_millicores, memory_mb, status, create_time_ms, deployed_time_ms, updated_ms) "
              "VALUES (?, 'n', 'm', 'mc', 'bc', 'pc', '/p', 'c', 'f', 'predict', ?, 'h', 1, 1, 1000, 512, "
              "'deployed', 1, 2, 3)", (crn, f"hash-{crn}"))


def test_rows_read_by_name_position_and_as_a_mapping(state: State, other: State) -> None:
    with state.tx() as c:
        _deployment(c, "d1")
    row = other.conn().execute("SELECT crn, status, create_time_ms FROM deployment WHERE crn = ?",
                               ("d1",)).fetchone()
    assert (row["crn"], row[1], row["create_time_ms"]) == ("d1", "deployed", 1)
    assert dict(row) == {"crn": "d1", "status": "deployed", "create_time_ms": 1} and tuple(row) == ("d1",
                                                                                                "deployed", 1)
    assert [r[0] for r in other.conn().execute("SELECT crn FROM deployment")] == ["d1"]
    assert other.conn().rows("SELECT crn, replicas FROM deployment") == [("d1", 1)]
    assert other.conn().execute("SELECT crn FROM deployment WHERE crn = ?", ("nope",)).fetchone() is None


def test_a_transaction_that_raises_leaves_nothing(state: State, other: State) -> None:
    with pytest.raises(RuntimeError), state.tx() as c:
        _deployment(c, "d1")
        outbox.enqueue(c, "deployment", {"crn": "d1"})
        raise RuntimeError("half-way")
    assert other.conn().execute("SELECT count(*) FROM deployment").fetchone()[0] == 0
    assert outbox.entries(other) == []


def test_a_duplicate_key_is_refused_by_the_database(state: State) -> None:
    with state.tx() as c:
        _deployment(c, "d1")
    with pytest.raises(state.errors), state.tx() as c:
        _deployment(c, "d1")


def test_an_exclusive_lock_excludes_other_threads_and_instances(state: State, other: State) -> None:
    with state.exclusive("lane") as held:
        assert held
        seen: list[bool] = []

        def try_it() -> None:
            with state.exclusive("lane") as h:
                seen.append(h)

        t = threading.Thread(target=try_it)
        t.start()
        t.join()
        with other.exclusive("lane") as h2, other.exclusive("another lane") as h3:
            assert seen == [False] and not h2 and h3
    with other.exclusive("lane") as h4:
        assert h4


HOLDER = """
import sys, time
from serving.platform.state import open_state
state = open_state(sys.argv[1])
with state.exclusive("lane") as held:
    print("held" if held else "not held", flush=True)
    time.sleep(600)
"""


def test_a_lock_dies_with_its_process(state: State, state_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, state_url], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with state.exclusive("lane") as held:
            assert not held
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        def free() -> bool:
            with state.exclusive("lane") as h:
                return h

        wait_until(free, 10, 0.1, "the lock of the killed process to be free")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_outbox_writers_commit_in_sequence_order(state: State, other: State) -> None:
    """A slow writer holding seq n keeps later ones from committing first: a reader never sees a gap that fills
    later (which would make a replayer deliver n+1 before n)."""
    inside = threading.Event()
    release = threading.Event()

    def slow() -> None:
        with state.tx() as c:
            outbox.enqueue(c, "drift", {"n": 1})
            inside.set()
            release.wait(10)

    t = threading.Thread(target=slow)
    t.start()
    assert inside.wait(10)
    done = threading.Event()

    def fast() -> None:
        with other.tx() as c:
            outbox.enqueue(c, "drift", {"n": 2})
        done.set()

    t2 = threading.Thread(target=fast)
    t2.start()
    assert not done.wait(0.5)  # waits for the slow writer
    assert outbox.entries(other) == []
    release.set()
    t.join()
    t2.join()
    assert [e.payload["n"] for e in outbox.entries(other)] == [1, 2]


def test_racing_replayers_deliver_each_entry_once_in_order(state: State, other: State) -> None:
    with state.tx() as c:
        for n in range(120):
            outbox.enqueue(c, "drift", {"n": n})
    delivered: list[tuple[str, int]] = []
    lock = threading.Lock()

    def sender(name: str) -> Any:
        def send(kind: str, payload: dict[str, Any]) -> None:
            time.sleep(0.002)
            with lock:
                delivered.append((name, payload["n"]))

        return send

    replayers = [outbox.Replayer(s, sender(name)) for s, name in ((state, "a"), (other, "b"), (other, "b2"))]
    for r in replayers:
        r.start()
    try:
        assert replayers[0].drain(60)
    finally:
        for r in replayers:
            r.stop()
    assert [n for _, n in delivered] == list(range(120))
    assert [e.status for e in outbox.entries(other, include_done=True)] == ["done"] * 120


def test_a_monitor_window_is_claimed_by_one_runner(state: State, other: State) -> None:
    config = MonitorConfig(every_ms=30 * M, window_ms=30 * M, max_catch_up=48)
    summary = ReferenceSummary(source=ReferenceSource(kind="expected"), created_ms=1)
    a, b = Ledger(state), Ledger(other)
    assert a.insert("d1", config, summary) and not b.insert("d1", config, summary)
    wins: list[str] = []
    barrier = threading.Barrier(4)

    def runner(ledger: Ledger, name: str) -> None:
        barrier.wait()
        for k in range(20):
            if ledger.claim("d1", k * M, (k + 1) * M):
                wins.append(f"{name}{k}")

    threads = [threading.Thread(target=runner, args=(ledger, name))
               for ledger, name in ((a, "a"), (b, "b"), (a, "c"), (b, "d"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(w[1:]) for w in wins) == list(range(20))
    # holding the deployment's lock, a "running" window is a dead runner's: reclaimed at once
    with b.hold("d1") as held:
        assert held and b.claim("d1", 0, M, stale_after_ms=0)
        with a.hold("d1") as also:
            assert not also
    b.finish("d1", 0, M, {"end_ms": M}, scheduled=True, status="ok", columns=[])
    assert not a.claim("d1", 0, M, stale_after_ms=0)  # done is done
    m = a.get("d1")
    assert m is not None and m.last_end_ms == M and m.drift_status == "ok"


def test_traffic_of_several_recorders_adds_up(state: State, other: State) -> None:
    t0 = 1_700_000_000_000
    recorders = [TrafficRecorder(s, clock=lambda: t0 / 1000 + 30) for s in (state, other, other)]
    threads = []
    for i, rec in enumerate(recorders):
        for k in range(50):
            rec.record("d1", "busy" if k % 10 == 0 else None, 0.001 * (k + 1), at_ms=t0 + i * 100 + k)
        threads.append(threading.Thread(target=rec.flush))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    series = TrafficRecorder(state).series("d1", t0, t0 + M, 10_000)
    assert (series.requests, series.errors) == (150, 15)
    (point,) = series.points
    assert point.requests == 150
