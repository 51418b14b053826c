"""AdminResource's health and diagnostics: ``admin/liveness``, ``admin/readiness``, ``admin/stack``,
``admin/debug/metrics`` and ``admin/patches``.

Atlas is live while its service state is ACTIVE (the embedded store has no passive/migrating states: it is ACTIVE
while it answers) and ready when its backend and index stores answer; here both stores are the one SQLite file, so
ready means it answers a read at the schema version this code expects. The thread dump lists the process's Python
threads as Atlas lists its JVM's. Debug metrics are Atlas's ``AtlasDebugMetricsSink`` map, which stays empty while
``atlas.debug.metrics.enabled`` is false (as ``admin/session`` says). Atlas's patches are the Java and typedef patches
it applied to its graph; the store's counterpart is its schema migrations (:data:`catalog.embedded.db.MIGRATIONS`),
listed as Java patches (code-applied) that are APPLIED when the store's schema includes them.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any

from catalog.embedded.db import MIGRATIONS
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.raw_content import RawContent
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

LIVE = "Service is live"
READY = "Service is ready to accept client requests"
NOT_READY = "Service not ready to accept client requests"
JAVA_PATCH = "JAVA_PATCH"  # AtlasPatchHandler.JAVA_PATCH_TYPE
PATCH_ACTION = "apply"  # what AtlasPatchHandler registers its patches with
# Python frames a thread waits in: shown as Java's WAITING, as a JVM shows a thread parked in a lock or a queue
_WAITING_MODULES = frozenset({"threading", "queue", "selectors", "concurrent.futures.thread", "asyncio.base_events"})


def liveness(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    """``GET admin/liveness`` (``serviceLiveliness``): the store answers requests only while it is ACTIVE."""
    return RawContent.text(LIVE)


def readiness(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    """``GET admin/readiness`` (``serviceReadiness``): 500 INTERNAL_ERROR unless the store can serve."""
    try:
        version = int(store.db.reader().execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as e:
        raise AtlasError(ErrorCode.INTERNAL_ERROR, NOT_READY) from e
    if version != len(MIGRATIONS):
        raise AtlasError(ErrorCode.INTERNAL_ERROR, NOT_READY)
    return RawContent.text(READY)


# -- admin/stack ----------------------------------------------------------------------------------------------
def _frame_line(frame: traceback.FrameSummary, module: str) -> str:
    """A frame as Java's StackTraceElement prints one: ``declaringClass.method(File:line)``."""
    file = frame.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{module}.{frame.name}({file}:{frame.lineno})"


def _frames(top: FrameType) -> list[tuple[str, traceback.FrameSummary]]:
    """The thread's frames, innermost first (as Java lists them), each with its module's name."""
    out: list[tuple[str, traceback.FrameSummary]] = []
    frame: FrameType | None = top
    while frame is not None:
        summary = traceback.FrameSummary(frame.f_code.co_filename, frame.f_lineno or 0, frame.f_code.co_qualname,
                                         lookup_line=False)
        out.append((str(frame.f_globals.get("__name__", "?")), summary))
        frame = frame.f_back
    return out


def thread_dump() -> str:
    """Each thread: its name, ``State:`` and its stack (AdminResource.getThreadDump's layout)."""
    frames = sys._current_frames()
    blocks = []
    for thread in sorted(threading.enumerate(), key=lambda t: t.ident or 0):
        top = frames.get(thread.ident or -1)
        stack = _frames(top) if top is not None else []
        waiting = bool(stack) and stack[0][0] in _WAITING_MODULES and thread is not threading.current_thread()
        state = "WAITING" if waiting else "RUNNABLE" if thread.is_alive() else "TERMINATED"
        lines = [thread.name, f"State: {state}", *(_frame_line(f, m) for m, f in stack)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def stack(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    return RawContent.text(thread_dump())


# -- admin/debug/metrics, admin/patches -----------------------------------------------------------------------
def debug_metrics(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """AtlasDebugMetricsSink.getMetrics: nothing is collected while debug metrics are disabled."""
    return {}


def patches(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """AtlasPatches: one patch per schema migration, sorted by id (AtlasPatchRegistry.getAllPatches). The store
    keeps no record of when or by whom a migration ran, so those fields are left at AtlasPatch's defaults (times 0,
    users absent)."""
    version = int(store.db.reader().execute("PRAGMA user_version").fetchone()[0])
    return {"patches": [
        {"id": f"STORE_SCHEMA_PATCH_{m.version:04d}", "description": m.name.replace("_", " "), "type": JAVA_PATCH,
         "action": PATCH_ACTION, "createdTime": 0, "updatedTime": 0,
         "status": "APPLIED" if m.version <= version else "UNKNOWN"}
        for m in MIGRATIONS]}
