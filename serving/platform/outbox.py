"""The catalog outbox: catalog writes from deploy/stop/status changes, stored durably and replayed in order.

Atlas (or the catalog API in front of it) being down never blocks a deployment: the write is committed to the
outbox in the same transaction as the platform's own state change, and a replay thread sends entries one by
one, oldest first, retrying while the catalog is unavailable. Every entry is an idempotent upsert (the catalog
diffs against Atlas), so an entry replayed after a crash between "sent" and "marked done" writes nothing twice.
A build entry carries the build as resolved at deploy time (git facts, the committed lineage file, what HiveServer2
and S3 said): replaying it never needs the project directory.

Entries go to two destinations, each in a lane of its own with its own replayer: the catalog (builds, deployments,
drift) and OpenLineage (``openlineage`` entries: a run event as JSON, sent by the OpenLineage client's transport). In
order within a lane; a lineage backend being down never holds up the catalog's writes, nor the other way round.

Several platform instances sharing one state (PostgreSQL) deliver each lane from one instance at a time: a replayer
delivers while it holds the lane's lock (``State.exclusive``), which PostgreSQL frees when its holder dies, so the
others take over within a second. Writers serialise on the outbox (``StateConn.serialize``), so entries commit in
the order of their sequence numbers. An instance killed between "sent" and "marked done" leaves that one entry to
be sent again by the next holder: an idempotent upsert for the catalog, the same run event (same runId, eventType
and eventTime) for OpenLineage.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from catalog import (
    BuildRequest,
    CatalogBackend,
    CatalogError,
    DeploymentRecord,
    DriftRecord,
    Forbidden,
    ResolvedBuild,
    Unauthorized,
    UpstreamUnavailable,
    redact_text,
)
from serving.platform.state import State, StateConn

log = logging.getLogger(__name__)
MAX_SEQ = 2**63 - 1  # SQLite's largest integer
OPENLINEAGE = "openlineage"
#: lane -> which entries it delivers (an SQL condition on ``kind``)
LANES = {"catalog": f"kind != '{OPENLINEAGE}'", OPENLINEAGE: f"kind = '{OPENLINEAGE}'"}
IDLE_WAIT_S = 5.0  # a replayer with nothing to send looks again after this long (sooner when woken)
TAKEOVER_POLL_S = 1.0  # while another instance holds the lane, how often to check that it still does


class Retryable(Exception):
    """The catalog could not take the entry now (unreachable, 5xx, credentials refused): keep it, retry later."""


class Permanent(Exception):
    """The catalog refused the entry's content (a 4xx other than 401/403): park it (status ``failed``), move on;
    ``retry`` puts it back once the cause is fixed."""


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    kind: str
    payload: dict[str, Any]
    created_ms: int
    status: str
    attempts: int
    last_error: str | None


def catalog_sender(catalog: CatalogBackend, state: State | None = None) -> Callable[[str, dict[str, Any]], None]:
    """The replayer's ``send``: an entry written into ``catalog``. An outage is retried; a catalog that refuses
    the entry's content has refused it for good. With ``state``, a delivered deployment's guid in the catalog is
    kept on its row there (what Atlas's own clients address it by)."""

    def send(kind: str, payload: dict[str, Any]) -> None:
        try:
            if kind == "build" and "resolved" in payload:
                catalog.record_resolved_build(ResolvedBuild.model_validate(payload["resolved"]))
            elif kind == "build":  # stored before builds carried their facts: the project is read again
                catalog.record_build(BuildRequest(project_dir=payload["project_dir"], models=[payload["model"]],
                                                  commit=payload["commit"], allow_unresolved=True))
            elif kind == "deployment":
                written = catalog.record_deployment(DeploymentRecord.model_validate(payload))
                if state is not None and written.guid:
                    with state.tx() as c:
                        c.execute("UPDATE deployment SET catalog_guid = ? WHERE crn = ?", (written.guid,
                                                                                            payload["crn"]))
            elif kind == "drift":
                catalog.record_drift(DriftRecord.model_validate(payload))
            else:
                raise Permanent(f"unknown outbox entry kind {kind!r}")
        except (UpstreamUnavailable, Unauthorized, Forbidden) as e:
            # credentials refused is a setting to fix (a rotated password), not a write to drop
            raise Retryable(str(e)) from e
        except (CatalogError, ValidationError, KeyError) as e:
            raise Permanent(f"{type(e).__name__}: {e}") from e

    return send


def lineage_sender(emit: Callable[[dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    """The OpenLineage lane's ``send``: ``emit`` delivers one run event (its JSON), raising :class:`Retryable` when
    the lineage backend cannot take it now and :class:`Permanent` when it never will."""

    def send(kind: str, payload: dict[str, Any]) -> None:
        if kind != OPENLINEAGE or not isinstance(payload.get("event"), dict):
            raise Permanent(f"not an OpenLineage event: outbox entry kind {kind!r}")
        emit(payload["event"])

    return send


def enqueue(conn: StateConn, kind: str, payload: dict[str, Any]) -> None:
    """Add an entry inside the caller's transaction."""
    conn.serialize("outbox")  # sequence numbers commit in order, across instances
    conn.execute("INSERT INTO outbox(kind, payload, created_ms) VALUES (?, ?, ?)",
                 (kind, json.dumps(payload, sort_keys=True), int(time.time() * 1000)))


def entries(db: State, *, include_done: bool = False, limit: int = 1000, pending_only: bool = False,
            lane: str | None = None) -> list[OutboxEntry]:
    """Entries in order: not yet delivered (pending and parked), plus delivered ones with ``include_done``; only
    pending ones (what the replayer sends next) with ``pending_only``; of one of :data:`LANES` with ``lane``."""
    conditions = ["status = 'pending'"] if pending_only else [] if include_done else ["status != 'done'"]
    if lane is not None:
        conditions.append(LANES[lane])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = db.conn().execute(f"SELECT * FROM outbox {where} ORDER BY seq LIMIT ?", (limit,)).fetchall()
    return [OutboxEntry(r["seq"], r["kind"], json.loads(r["payload"]), r["created_ms"], r["status"], r["attempts"],
                        r["last_error"]) for r in rows]


def retry(db: State, seq: int | None = None) -> list[int]:
    """Put parked entries back in line (one, or all with ``seq=None``); the sequence numbers put back."""
    if seq is not None and not 1 <= seq <= MAX_SEQ:
        return []  # no entry has it (and SQLite could not even compare it: OverflowError)
    with db.tx() as c:
        where, args = ("AND seq = ?", (seq,)) if seq is not None else ("", ())
        rows = c.execute(f"SELECT seq FROM outbox WHERE status = 'failed' {where} ORDER BY seq", args).fetchall()
        c.execute(f"UPDATE outbox SET status = 'pending', done_ms = NULL WHERE status = 'failed' {where}", args)
    return [r["seq"] for r in rows]


class Replayer:
    def __init__(self, db: State, send: Callable[[str, dict[str, Any]], None], *,
                 max_backoff: float = 15.0, lane: str = "catalog") -> None:
        """Delivers the entries of ``lane`` (one of :data:`LANES`) with ``send``."""
        if lane not in LANES:
            raise ValueError(f"no outbox lane {lane!r}")
        self.db = db
        self.send = send
        self.max_backoff = max_backoff
        self._backoff = 0.5
        self.lane = lane
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{lane}-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is pending (for shutdown and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not entries(self.db, limit=1, pending_only=True, lane=self.lane):
                return True
            self.wake()
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        self._backoff = 0.5
        while not self._stop.is_set():
            try:
                with self.db.exclusive(f"outbox:{self.lane}") as mine:
                    wait = self._deliver() if mine else TAKEOVER_POLL_S
            except self.db.errors as err:  # the state database is down: nothing can be read or marked
                log.warning("%s outbox: platform state unavailable (%s); retrying in %.1fs", self.lane,
                            redact_text(str(err)), self._backoff)
                wait = self._backoff
                self._backoff = min(self.max_backoff, self._backoff * 2)
            self._wake.wait(wait)
            self._wake.clear()

    def _deliver(self) -> float:
        """Send pending entries in order while this replayer holds the lane; how long to wait before looking
        again."""
        while not self._stop.is_set():
            pending = entries(self.db, limit=1, pending_only=True, lane=self.lane)
            if not pending:
                return IDLE_WAIT_S
            e = pending[0]
            try:
                self.send(e.kind, e.payload)
            except Retryable as err:
                self._mark(e, "pending", str(err))
                wait = self._backoff
                log.info("%s unavailable (%s); outbox entry %d retried in %.1fs", self.lane, redact_text(str(err)),
                         e.seq, wait)
                self._backoff = min(self.max_backoff, self._backoff * 2)
                return wait
            except Permanent as err:
                log.error("%s refused outbox entry %d (%s): %s", self.lane, e.seq, e.kind, redact_text(str(err)))
                self._mark(e, "failed", str(err))
                continue
            except Exception as err:
                log.exception("outbox entry %d failed unexpectedly", e.seq)
                self._mark(e, "pending", f"{type(err).__name__}: {err}")
                wait = self._backoff
                self._backoff = min(self.max_backoff, self._backoff * 2)
                return wait
            self._backoff = 0.5
            self._mark(e, "done", None)
        return 0.0

    def _mark(self, e: OutboxEntry, status: str, error: str | None) -> None:
        # stored and printed by `mlcatalog outbox`: a message quoting a catalog URL must not carry its password
        error = redact_text(error) if error is not None else None
        with self.db.tx() as c:
            c.execute("UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, done_ms = ? "
                      "WHERE seq = ?", (status, error, int(time.time() * 1000) if status != "pending" else None,
                                        e.seq))
