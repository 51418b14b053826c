"""AdminResource's deferred tasks (``admin/tasks``) and searches in flight (``admin/activeSearches``).

Atlas queues tasks (classification propagation when ``atlas.tasks.enabled``, audit aging) in its graph and deletes
each one when it completes (``TaskRegistry.deleteComplete``), so ``admin/tasks`` lists the pending and failed ones.
The embedded store runs all of that inside the request that asks for it, so no task is ever pending: the list is
empty, for any ``guids``, and deleting tasks deletes nothing (Atlas answers 204 whether or not a guid exists).

``admin/activeSearches`` is Atlas's ``SearchTracker``: a search registers while it runs, and terminating it stops it.
Atlas registers its basic searches (``search/basic``); here the route running one registers it with
:meth:`SearchTracker.track`, naming the SQLite connection it reads with. Terminating it interrupts that connection
(``sqlite3.Connection.interrupt``), so its running query stops with an error, which :meth:`track` answers as the search
having been terminated (Atlas's search stops and answers what it found so far; a SQLite query has nothing to answer).
Ids are unique per search (Atlas uses the thread's name, which the worker threads here share).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest


# -- admin/tasks ----------------------------------------------------------------------------------------------
def get_tasks(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    """``GET admin/tasks[?guids=...]``: TaskManagement.getAll / getByGuids; no task is pending here."""
    return []


def delete_tasks(store: EmbeddedStore, req: AtlasRequest) -> None:
    """``DELETE admin/tasks?guids=...``: TaskManagement.deleteByGuids (204, found or not)."""
    return None


# -- admin/activeSearches -------------------------------------------------------------------------------------
class SearchTerminated(AtlasError):
    def __init__(self, search_id: str) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, f"search {search_id} was terminated (admin/activeSearches)")


class SearchTracker:
    """The searches running on one store, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, sqlite3.Connection | None] = {}
        self._terminated: set[str] = set()

    @contextmanager
    def track(self, conn: sqlite3.Connection | None = None) -> Iterator[str]:
        """Register a search for the time of the block; ``conn``: the connection it queries, to interrupt."""
        search_id = str(uuid.uuid4())
        with self._lock:
            self._running[search_id] = conn
        try:
            yield search_id
        except sqlite3.OperationalError as e:
            if search_id in self._terminated:
                raise SearchTerminated(search_id) from e
            raise
        finally:
            with self._lock:
                self._running.pop(search_id, None)
                self._terminated.discard(search_id)

    def active(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def terminate(self, search_id: str) -> bool:
        """SearchTracker.terminate: whether such a search was running (it is no longer listed)."""
        with self._lock:
            if search_id not in self._running:
                return False
            conn = self._running.pop(search_id)
            self._terminated.add(search_id)
        if conn is not None:
            conn.interrupt()
        return True


_TRACKERS: weakref.WeakKeyDictionary[EmbeddedStore, SearchTracker] = weakref.WeakKeyDictionary()
_TRACKERS_LOCK = threading.Lock()


def tracker(store: EmbeddedStore) -> SearchTracker:
    with _TRACKERS_LOCK:
        found = _TRACKERS.get(store)
        if found is None:
            found = _TRACKERS[store] = SearchTracker()
        return found


def active_searches(store: EmbeddedStore, req: AtlasRequest) -> list[str]:
    """``GET admin/activeSearches``: the ids of the searches running now (Atlas answers a JSON array)."""
    return tracker(store).active()


def terminate_search(store: EmbeddedStore, req: AtlasRequest) -> bool:
    """``DELETE admin/activeSearches/{id}``: ``true`` if the search was running and is stopped, else ``false``."""
    return tracker(store).terminate(req.param("id"))
