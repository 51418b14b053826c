"""CRN text <-> small integer id, cached in memory.

Both backends store each CRN once (table ``metric_crn``) and refer to it by id: a CML CRN is ~110 bytes and every
record carries three, in the row and again in each read index, so ids make rows and indexes several times
smaller. Ids are never reassigned or deleted, so a pair seen *committed* can be cached for the life of the
process. The writer stages ids it created in the open transaction and publishes them only after COMMIT (a
rolled-back id must not leak into the cache).
"""

from __future__ import annotations

import threading


class CrnCache:
    def __init__(self) -> None:
        self._by_crn: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._staged: dict[str, int] = {}
        self._lock = threading.Lock()  # only for publishing; single dict reads are atomic under the GIL

    def id_of(self, crn: str) -> int | None:
        """The committed id of ``crn`` if cached."""
        return self._by_crn.get(crn)

    def writer_id_of(self, crn: str) -> int | None:
        """Write session only (one thread at a time): the committed id, or the one staged in its open transaction."""
        found = self._by_crn.get(crn)
        return found if found is not None else self._staged.get(crn)

    def crn_of(self, crn_id: int) -> str | None:
        return self._by_id.get(crn_id)

    def remember(self, crn: str, crn_id: int) -> None:
        """A pair read from committed data."""
        with self._lock:
            self._by_crn[crn] = crn_id
            self._by_id[crn_id] = crn

    def stage(self, crn: str, crn_id: int) -> None:
        """A pair the writer resolved inside its open transaction (write session only)."""
        self._staged[crn] = crn_id

    def publish(self) -> None:
        """After COMMIT (write session only)."""
        if self._staged:
            with self._lock:
                for crn, crn_id in self._staged.items():
                    self._by_crn[crn] = crn_id
                    self._by_id[crn_id] = crn
            self._staged.clear()

    def discard(self) -> None:
        """After ROLLBACK (write session only)."""
        self._staged.clear()
