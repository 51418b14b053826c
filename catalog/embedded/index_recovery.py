"""``GET v2/indexrecovery`` and ``POST v2/indexrecovery/start`` (IndexRecoveryREST, IndexRecoveryService).

Atlas's search index (Solr) is derived from its graph; a recovery replays the graph's transaction log from a start
time into the index. The store's counterpart of the index is what it derives from entity bodies: the qualifiedName
and name columns of ``entity``, the unique-attribute index (``uattr``) and the propagated classification rows, with
the other copies :mod:`checkstate` checks. A recovery from ``startTime`` rebuilds those, with checkstate's fixes,
for every entity updated at or after it (what a replay of the log from then would touch), and drops the index rows
of entities that are gone (a purge leaves no row to carry its time, and such rows are never right).

It runs in the request, in transactions of :data:`CHUNK` entities, so writers get their turn between them and the
204 means the recovery is done: checkstate's fixes cost a few indexed queries per entity (5,000 DataSets take
about 0.15 s), and a recovery from a recent time touches few entities. One recovery runs at a time per process.

The recovery info is kept as Atlas keeps it on its ``__solrIndexRecoveryInfo`` vertex, with its property keys, in
``store_info``: ``customTime`` the start time last asked for; ``startTime`` where the next recovery would start from
(Atlas moves it when the index goes down; here it is when the last recovery finished, everything written before
then having been recovered or written consistently); ``prevTime`` its value before. GET answers each as Java's
``Instant.toString()`` or ``"Not applicable"``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from catalog.embedded import checkstate
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    import sqlite3

    from catalog.embedded.routes import AtlasRequest

log = logging.getLogger(__name__)

PREFIX = "__idxRecovery_"  # Constants.INDEX_RECOVERY_PREFIX; GET answers the keys without it
START_TIME, PREV_TIME, CUSTOM_TIME = PREFIX + "startTime", PREFIX + "prevTime", PREFIX + "customTime"
KEYS = (START_TIME, PREV_TIME, CUSTOM_TIME)
NOT_APPLICABLE = "Not applicable"
NO_START_TIME = "Index Recovery requested without start time"
CHUNK = 500  # entities per write transaction
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOCK = threading.Lock()
# DateTimeFormatter.ISO_INSTANT, as Instant.parse reads it (case-insensitive; seconds and fraction optional)
_INSTANT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                      r"(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)


def parse_instant(text: str) -> int:
    """Epoch ms of an ISO-8601 instant (``Instant.parse(text).toEpochMilli()``: the fraction cut to ms, floored)."""
    m = _INSTANT.fullmatch(text)
    if m is None:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.group(1, 2, 3, 4, 5, 6))
    zone = m.group(8).upper()
    offset = timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * timedelta(
        hours=int(zone[1:3]), minutes=int(zone[4:6]))
    at = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    return (at - _EPOCH) // timedelta(seconds=1) * 1000 + int((m.group(7) or "").ljust(3, "0")[:3])


def instant_string(ms: int) -> str:
    """``Instant.ofEpochMilli(ms).toString()``: UTC, the fraction shown only when there is one."""
    at = _EPOCH + timedelta(milliseconds=ms)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{at.microsecond // 1000:03d}" if at.microsecond else "") + "Z"


def read_info(conn: sqlite3.Connection) -> dict[str, int]:
    marks = ",".join("?" * len(KEYS))
    return {k: int(v) for k, v in conn.execute(f"SELECT key, value FROM store_info WHERE key IN ({marks})", KEYS)}


def _write_info(conn: sqlite3.Connection, values: dict[str, int]) -> None:
    conn.executemany("INSERT INTO store_info(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                     "value = excluded.value", [(k, str(v)) for k, v in values.items()])


def recover(store: EmbeddedStore, start_ms: int) -> dict[str, Any]:
    """Recover the derived data of the entities updated at or after ``start_ms``; an AtlasCheckStateResult of them
    (what was fixed), with ``orphanRowsRemoved``. The info is written as Atlas writes it: the custom time first."""
    with _LOCK:
        with store.db.write() as conn:
            _write_info(conn, {CUSTOM_TIME: start_ms})
        guids = [g for (g,) in store.db.reader().execute(
            "SELECT guid FROM entity WHERE update_time >= ? ORDER BY update_time, guid", (start_ms,))]
        states: list[dict[str, Any]] = []
        for i in range(0, len(guids), CHUNK):
            with store.db.write() as conn:
                states += checkstate.fix_entities(conn, store.registry, guids[i : i + CHUNK])
        with store.db.write() as conn:
            orphans = conn.execute("DELETE FROM uattr WHERE guid NOT IN (SELECT guid FROM entity)").rowcount
            orphans += conn.execute(
                "DELETE FROM propagated_classification WHERE entity_guid NOT IN (SELECT guid FROM entity) "
                "OR source_guid NOT IN (SELECT guid FROM entity)").rowcount
            previous = read_info(conn).get(START_TIME)
            done = time.time_ns() // 1_000_000
            _write_info(conn, {START_TIME: done} | ({} if previous is None else {PREV_TIME: previous}))
    result = checkstate.summarize(states) | {"orphanRowsRemoved": orphans}
    log.info("index recovery from %s done at %s: %d entities scanned, %d fixed, %d orphan rows removed",
             instant_string(start_ms), instant_string(done), len(states), result["entitiesFixed"], orphans)
    return result


# -- routes ---------------------------------------------------------------------------------------------------
def get_info(store: EmbeddedStore, req: AtlasRequest) -> dict[str, str]:
    """``GET v2/indexrecovery`` (getIndexRecoveryData)."""
    info = read_info(store.db.reader())
    return {k.removeprefix(PREFIX): instant_string(info[k]) if k in info else NOT_APPLICABLE for k in KEYS}


def start(store: EmbeddedStore, req: AtlasRequest) -> None:
    """``POST v2/indexrecovery/start?startTime=<ISO-8601 instant>`` (startCustomIndexRecovery). Atlas answers a
    start time ``Instant.parse`` refuses with a bare 500; here it is the 400 its missing start time gets. A time in
    the future is taken, as Atlas takes it (nothing was updated since)."""
    text = req.query.get("startTime")
    if not text:
        raise AtlasError(ErrorCode.BAD_REQUEST, NO_START_TIME)
    try:
        start_ms = parse_instant(text)
    except ValueError as e:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"Index Recovery requested with invalid start time {shown(text, 60)}: "
                                                "expected an ISO-8601 instant such as 2022-01-01T00:00:00Z") from e
    recover(store, start_ms)


ROUTES: list[tuple[str, str, Callable[[EmbeddedStore, AtlasRequest], Any], int]] = [
    ("GET", "/v2/indexrecovery", get_info, 200),
    ("POST", "/v2/indexrecovery/start", start, 204),
]
