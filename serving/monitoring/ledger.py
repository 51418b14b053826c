"""Monitors and their windows in the platform's state database (tables ``monitor`` and ``monitor_window``).

A window is claimed (a ``running`` row) before it is computed and marked ``done`` after its results are in the
metrics store, so two runners never compute the same window and a finished window is never computed again, across
restarts too. The runner computes while it holds the deployment's monitor lock (:meth:`Ledger.hold`, which the
state releases when its process dies, kill -9 too), so several platform instances sharing the state take turns,
and one holding the lock knows that a ``running`` row was left by a runner that died: it reclaims it at once
(without the lock, after ``stale_after_ms``). Its results may already be in the metrics store, which the runner
checks before writing (the aggregate carries the window), so the window still ends up written once.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from serving.monitoring.config import MonitorConfig
from serving.monitoring.reference import ReferenceSummary
from serving.platform import outbox
from serving.platform.state import State

STALE_AFTER_MS = 15 * 60_000


@dataclass(frozen=True)
class MonitorRow:
    deployment_crn: str
    config: MonitorConfig
    reference: ReferenceSummary
    status: str
    stopped_reason: str | None
    created_ms: int
    last_end_ms: int | None
    drift_status: str | None
    drift_columns: list[str]
    last_result: dict[str, Any] | None
    published_status: str | None


class WindowRow(BaseModel):
    """A window in the ledger (also the API's answer for a monitor's windows)."""

    start_ms: int
    end_ms: int
    status: str
    claimed_ms: int
    done_ms: int | None
    result: dict[str, Any] | None
    error: str | None


_MAX_MS = 2**63 - 1
# the schedule only moves forward (SQLite's two-argument MAX is PostgreSQL's GREATEST: spelled for both)
_ADVANCE = ("UPDATE monitor SET last_end_ms = CASE WHEN COALESCE(last_end_ms, 0) < ? THEN ? ELSE last_end_ms END "
            "WHERE deployment_crn = ?")


def _now() -> int:
    return int(time.time() * 1000)


class Ledger:
    def __init__(self, state: State) -> None:
        self.state = state

    # -- monitors -----------------------------------------------------------------------------------
    def insert(self, crn: str, config: MonitorConfig, reference: ReferenceSummary) -> bool:
        """Store a new monitor; False if the deployment already has an active one. A stopped one is replaced."""
        with self.state.tx() as c:
            c.serialize(f"monitor:{crn}")  # two instances adding one deployment's monitor: one wins
            row = c.execute("SELECT status FROM monitor WHERE deployment_crn = ?", (crn,)).fetchone()
            if row is not None and row[0] == "active":
                return False
            c.execute("DELETE FROM monitor WHERE deployment_crn = ?", (crn,))
            c.execute("INSERT INTO monitor(deployment_crn, config, reference, status, created_ms) "
                      "VALUES (?, ?, ?, 'active', ?)",
                      (crn, config.model_dump_json(), reference.model_dump_json(), _now()))
        return True

    def get(self, crn: str) -> MonitorRow | None:
        row = self.state.conn().execute("SELECT * FROM monitor WHERE deployment_crn = ?", (crn,)).fetchone()
        return None if row is None else _monitor(row)

    def all(self, *, active_only: bool = False) -> list[MonitorRow]:
        where = "WHERE status = 'active'" if active_only else ""
        rows = self.state.conn().execute(f"SELECT * FROM monitor {where} ORDER BY created_ms").fetchall()
        return [_monitor(r) for r in rows]

    def delete(self, crn: str) -> bool:
        """Remove a monitor; its windows' ledger goes with it (the results stay in the metrics store)."""
        with self.state.tx() as c:
            gone = c.execute("DELETE FROM monitor WHERE deployment_crn = ?", (crn,)).rowcount
            c.execute("DELETE FROM monitor_window WHERE deployment_crn = ?", (crn,))
        return bool(gone)

    def set_reference(self, crn: str, reference: ReferenceSummary) -> None:
        with self.state.tx() as c:
            c.execute("UPDATE monitor SET reference = ? WHERE deployment_crn = ?", (reference.model_dump_json(), crn))

    def stop(self, crn: str, reason: str) -> None:
        with self.state.tx() as c:
            c.execute("UPDATE monitor SET status = 'stopped', stopped_reason = ? WHERE deployment_crn = ?",
                      (reason, crn))

    def deployment_status(self, crn: str) -> str | None:
        row = self.state.conn().execute("SELECT status FROM deployment WHERE crn = ?", (crn,)).fetchone()
        return None if row is None else str(row[0])

    # -- windows ------------------------------------------------------------------------------------
    def hold(self, crn: str) -> AbstractContextManager[bool]:
        """Try to hold the lock of ``crn``'s monitor windows for the block (whether it is held)."""
        return self.state.exclusive(f"monitor-windows:{crn}")

    def claim(self, crn: str, start_ms: int, end_ms: int, *, stale_after_ms: int = STALE_AFTER_MS) -> bool:
        """Take the window for computing; False if it is done or another runner holds it."""
        now = _now()
        with self.state.tx() as c:
            if c.execute("INSERT INTO monitor_window(deployment_crn, start_ms, end_ms, status, claimed_ms) "
                         "VALUES (?, ?, ?, 'running', ?) ON CONFLICT (deployment_crn, start_ms, end_ms) DO NOTHING",
                         (crn, start_ms, end_ms, now)).rowcount:
                return True
            row = c.execute("SELECT status, claimed_ms FROM monitor_window WHERE deployment_crn = ? AND "
                            f"start_ms = ? AND end_ms = ?{c.for_update}", (crn, start_ms, end_ms)).fetchone()
            if row is None:  # the monitor was deleted meanwhile, with its windows
                return False
            if row[0] == "done" or (row[0] == "running" and now - int(row[1]) < stale_after_ms):
                return False
            c.execute("UPDATE monitor_window SET status = 'running', claimed_ms = ?, error = NULL "
                      "WHERE deployment_crn = ? AND start_ms = ? AND end_ms = ?", (now, crn, start_ms, end_ms))
            return True

    def finish(self, crn: str, start_ms: int, end_ms: int, result: dict[str, Any], *, scheduled: bool,
               status: str, columns: list[str]) -> None:
        """Mark the window done and, for the latest one, make it the monitor's current state."""
        with self.state.tx() as c:
            c.execute("UPDATE monitor_window SET status = 'done', done_ms = ?, result = ?, error = NULL "
                      "WHERE deployment_crn = ? AND start_ms = ? AND end_ms = ?",
                      (_now(), json.dumps(result), crn, start_ms, end_ms))
            if scheduled:
                c.execute(_ADVANCE, (end_ms, end_ms, crn))
            latest = c.execute("SELECT MAX(end_ms) FROM monitor_window WHERE deployment_crn = ? AND status = 'done'",
                               (crn,)).fetchone()[0]
            if latest == end_ms:
                c.execute("UPDATE monitor SET drift_status = ?, drift_columns = ?, last_result = ? "
                          "WHERE deployment_crn = ?", (status, json.dumps(columns), json.dumps(result), crn))

    def fail(self, crn: str, start_ms: int, end_ms: int, error: str) -> None:
        with self.state.tx() as c:
            c.execute("UPDATE monitor_window SET status = 'failed', done_ms = ?, error = ? "
                      "WHERE deployment_crn = ? AND start_ms = ? AND end_ms = ?",
                      (_now(), error[:2000], crn, start_ms, end_ms))

    def skip_to(self, crn: str, end_ms: int) -> None:
        """Missed windows beyond the catch-up bound are given up: the schedule continues after ``end_ms``."""
        with self.state.tx() as c:
            c.execute(_ADVANCE, (end_ms, end_ms, crn))

    def publish(self, crn: str, key: str, record: dict[str, Any]) -> bool:
        """Queue ``record`` (a DriftRecord) for the catalog, in the outbox, unless what it says (``key``) was the
        last thing queued for this deployment; True when queued."""
        with self.state.tx() as c:
            row = c.execute(f"SELECT published_status FROM monitor WHERE deployment_crn = ?{c.for_update}",
                            (crn,)).fetchone()
            if row is None or row[0] == key:
                return False
            c.execute("UPDATE monitor SET published_status = ? WHERE deployment_crn = ?", (key, crn))
            outbox.enqueue(c, "drift", record)
            return True

    def note_alert_error(self, crn: str, start_ms: int, end_ms: int, error: str) -> None:
        with self.state.tx() as c:
            c.execute("UPDATE monitor_window SET error = ? WHERE deployment_crn = ? AND start_ms = ? AND end_ms = ?",
                      (f"alert not delivered: {error}"[:2000], crn, start_ms, end_ms))

    def windows(self, crn: str, limit: int = 100, start_ms: int = 0, end_ms: int | None = None) -> list[WindowRow]:
        """The newest ``limit`` windows ending in ``(start_ms, end_ms]``, newest first."""
        rows = self.state.conn().execute(
            "SELECT * FROM monitor_window WHERE deployment_crn = ? AND end_ms > ? AND end_ms <= ? "
            "ORDER BY end_ms DESC, start_ms DESC LIMIT ?",
            (crn, start_ms, _MAX_MS if end_ms is None else end_ms, limit)).fetchall()
        return [WindowRow(start_ms=r["start_ms"], end_ms=r["end_ms"], status=r["status"], claimed_ms=r["claimed_ms"],
                          done_ms=r["done_ms"], result=json.loads(r["result"]) if r["result"] else None,
                          error=r["error"]) for r in rows]


def _monitor(r: Any) -> MonitorRow:
    return MonitorRow(deployment_crn=r["deployment_crn"], config=MonitorConfig.model_validate_json(r["config"]),
                      reference=ReferenceSummary.model_validate_json(r["reference"]), status=r["status"],
                      stopped_reason=r["stopped_reason"], created_ms=r["created_ms"], last_end_ms=r["last_end_ms"],
                      drift_status=r["drift_status"],
                      drift_columns=json.loads(r["drift_columns"]) if r["drift_columns"] else [],
                      last_result=json.loads(r["last_result"]) if r["last_result"] else None,
                      published_status=r["published_status"])


def due_windows(config: MonitorConfig, created_ms: int, last_end_ms: int | None, now_ms: int,
                lag_ms: int = 0) -> tuple[list[tuple[int, int]], int]:
    """Scheduled windows not yet computed, oldest first, and how many older ones are given up (catch-up bound).

    Windows end on the ``every`` grid counted from the epoch (every 30m: at :00 and :30 UTC), so a window's
    bounds do not depend on when the process started; the first is the one ending after the monitor was added.
    ``lag_ms`` leaves predictions still in flight at a window's end the time to be written.
    """
    every, window = config.every_ms, config.window_ms
    first_end = last_end_ms + every if last_end_ms is not None else (created_ms // every + 1) * every
    latest_end = (now_ms - lag_ms) // every * every
    if latest_end < first_end:
        return [], 0
    count = (latest_end - first_end) // every + 1
    skipped = max(0, count - config.max_catch_up)
    ends = [first_end + (skipped + i) * every for i in range(count - skipped)]
    return [(e - window, e) for e in ends], skipped
