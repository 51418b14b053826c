"""The schedule's windows (grid, catch-up bound) and the ledger that computes each window once."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.monitoring.config import MonitorConfig
from serving.monitoring.ledger import Ledger, due_windows
from serving.monitoring.reference import ReferenceSource, ReferenceSummary
from serving.platform.state import StateDb

M = 60_000
CRN = "crn:cdp:ml:local:acct:workspace:ws/d1"


def config(every: int = 30 * M, window: int | None = None, catch_up: int = 48) -> MonitorConfig:
    return MonitorConfig(every_ms=every, window_ms=window or every, max_catch_up=catch_up)


def test_windows_end_on_the_epoch_grid_after_creation() -> None:
    c = config()
    created = 1_000 * 30 * M + 7 * M  # 7 minutes into a half hour
    assert due_windows(c, created, None, created + 5 * M) == ([], 0)
    first_end = 1_001 * 30 * M
    assert due_windows(c, created, None, first_end + 1) == ([(first_end - 30 * M, first_end)], 0)
    # the lag keeps a window open a little after its end
    assert due_windows(c, created, None, first_end + 1, lag_ms=2000) == ([], 0)
    # three windows later, with the first done
    windows, skipped = due_windows(c, created, first_end, first_end + 3 * 30 * M + 5)
    assert windows == [(first_end + k * 30 * M, first_end + (k + 1) * 30 * M) for k in range(3)] and skipped == 0


def test_sliding_windows_longer_than_every() -> None:
    windows, _ = due_windows(config(every=30 * M, window=2 * 60 * M), 0, 30 * M, 90 * M)
    assert windows == [(-60 * M, 60 * M), (-30 * M, 90 * M)]


def test_catch_up_is_bounded_to_the_latest_windows() -> None:
    c = config(every=M, catch_up=48)
    windows, skipped = due_windows(c, 0, M, 1000 * M)
    assert len(windows) == 48 and skipped == 1000 - 1 - 48
    assert windows[-1] == (999 * M, 1000 * M) and windows[0] == (952 * M, 953 * M)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    state = StateDb(tmp_path / "platform.db")
    ledger = Ledger(state)
    summary = ReferenceSummary(source=ReferenceSource(kind="expected"), created_ms=1)
    assert ledger.insert(CRN, config(), summary)
    return ledger


def test_a_window_is_claimed_once_and_never_recomputed_when_done(ledger: Ledger) -> None:
    assert ledger.claim(CRN, 0, 30 * M)
    assert not ledger.claim(CRN, 0, 30 * M)  # another runner holds it
    ledger.finish(CRN, 0, 30 * M, {"end_ms": 30 * M}, scheduled=True, status="ok", columns=[])
    assert not ledger.claim(CRN, 0, 30 * M)
    m = ledger.get(CRN)
    assert m is not None and (m.last_end_ms, m.drift_status, m.last_result) == (30 * M, "ok", {"end_ms": 30 * M})


def test_a_stale_claim_of_a_dead_runner_is_taken_over(ledger: Ledger) -> None:
    assert ledger.claim(CRN, 0, 30 * M)
    assert ledger.claim(CRN, 0, 30 * M, stale_after_ms=0)


def test_a_failed_window_is_computed_again(ledger: Ledger) -> None:
    assert ledger.claim(CRN, 0, 30 * M)
    ledger.fail(CRN, 0, 30 * M, "RuntimeError: worker died")
    assert ledger.windows(CRN)[0].status == "failed"
    assert ledger.claim(CRN, 0, 30 * M)


def test_an_older_window_finishing_late_does_not_replace_the_current_status(ledger: Ledger) -> None:
    for start, status in ((30 * M, "drifting"), (0, "ok")):
        assert ledger.claim(CRN, start, start + 30 * M)
        ledger.finish(CRN, start, start + 30 * M, {"end_ms": start + 30 * M}, scheduled=True, status=status,
                      columns=["Alcohol"] if status == "drifting" else [])
    m = ledger.get(CRN)
    assert m is not None and (m.drift_status, m.drift_columns, m.last_end_ms) == ("drifting", ["Alcohol"], 60 * M)


def test_one_active_monitor_per_deployment(ledger: Ledger) -> None:
    summary = ReferenceSummary(source=ReferenceSource(kind="expected"), created_ms=1)
    assert not ledger.insert(CRN, config(), summary)
    ledger.stop(CRN, "deployment stopped")
    assert ledger.insert(CRN, config(), summary)  # a stopped one is replaced


def test_publish_queues_a_catalog_write_only_when_the_status_changes(ledger: Ledger) -> None:
    from serving.platform.outbox import entries

    record = {"crn": CRN, "status": "drifting"}
    assert ledger.publish(CRN, '["drifting", ["Alcohol"]]', record)
    assert not ledger.publish(CRN, '["drifting", ["Alcohol"]]', record)
    assert ledger.publish(CRN, '["ok", []]', {**record, "status": "ok"})
    assert [(e.kind, e.payload["status"]) for e in entries(ledger.state)] == [("drift", "drifting"), ("drift", "ok")]


def test_windows_are_read_newest_first_within_a_range(ledger: Ledger) -> None:
    for k in range(4):
        assert ledger.claim(CRN, k * 30 * M, (k + 1) * 30 * M)
        ledger.finish(CRN, k * 30 * M, (k + 1) * 30 * M, {"k": k}, scheduled=True, status="ok", columns=[])
    assert [w.end_ms for w in ledger.windows(CRN)] == [120 * M, 90 * M, 60 * M, 30 * M]
    # (start, end]: the window ending at 30 min is out, the one ending at 90 min in
    assert [w.end_ms for w in ledger.windows(CRN, start_ms=30 * M, end_ms=90 * M)] == [90 * M, 60 * M]
    assert [w.end_ms for w in ledger.windows(CRN, 1, start_ms=30 * M)] == [120 * M]
