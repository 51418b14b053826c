"""Files a user asks for and gets later: Atlas's search result downloads (``SearchResultDownloadTask``) and glossary
exports (``GlossaryExportDownloadTask``).

Atlas queues a task, answers at once, and a task worker writes the file into ``<kind dir>/<user>/<file name>``;
``download/status`` lists the user's pending tasks and the files in the user's directory, and a scheduled job
(every minute) deletes files older than ``atlas.download.*.file.expiry.millis`` (a day). More than
``atlas.download.*.max.pending.tasks`` (50) pending tasks of a kind refuse a new one.

Here the tasks run on a small thread pool owned by the store's :class:`Downloads` (made on first use, stopped when
the store closes). A pending task lives in memory only (Atlas keeps it in its graph and resumes it after a restart);
the files stay on disk under the store's directory. A file is written under a hidden name and renamed when complete,
so a listed file is always whole (Atlas lists a file while it is still being written). A task that fails leaves no
file and drops out of the list, as Atlas's does once it gives up on it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore

log = logging.getLogger(__name__)

MAX_PENDING_TASKS = 50  # atlas.download.search.max.pending.tasks, atlas.download.glossary.max.pending.tasks
FILE_EXPIRY_MS = 24 * 60 * 60 * 1000  # atlas.download.search.file.expiry.millis, ...glossary.file.expiry.millis
CLEANUP_INTERVAL_S = 60.0  # the factories' cleanup cron, "0 0/1 * * * *"
WORKERS = 2
INVALID_FILE_NAME = "Invalid download file name"  # SearchDownloadFileValidator.INVALID_DOWNLOAD_FILE_NAME_MSG
_PART = ".part-"  # a file being written: hidden, never listed nor served

# what a task does: the file's content, or None for no file (a search that found nothing)
Work = Callable[[], bytes | None]


@dataclass
class Pending:
    """A queued or running task, as AtlasSearchDownloadRecord shows it (Atlas keeps a running task PENDING)."""

    kind: str
    file_name: str
    user: str
    created_ms: int
    start_ms: int | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "PENDING", "fileName": self.file_name, "createdBy": self.user,
                               "createdTime": self.created_ms}
        if self.start_ms is not None:
            out["startTime"] = self.start_ms
        return out


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def user_dir_name(user: str) -> str:
    """A user's directory name: the name percent-encoded, dots too, so no user name can leave the kind's
    directory (Atlas uses the name as it is)."""
    return quote(user, safe="").replace(".", "%2E") or "%00"


def check_file_name(name: str, extensions: tuple[str, ...], markers: tuple[str, ...]) -> None:
    """SearchDownloadFileValidator.validateFileName: a bare file name with one of ``extensions`` and one of
    ``markers`` after its first character (``_BASIC_``, ``_DSL_``, ``_GLOSSARY_EXPORT_``)."""
    if (not name.strip() or "/" in name or "\\" in name or ".." in name or "\0" in name
            or not name.endswith(extensions) or not any(name.find(m) > 0 for m in markers)):
        raise AtlasError(ErrorCode.BAD_REQUEST, INVALID_FILE_NAME)


@dataclass
class Downloads:
    """The download tasks and files of one store. ``root``: where the kinds' directories go (None: a temporary
    directory, removed on :meth:`close`)."""

    root: Path | None = None
    max_pending: int = MAX_PENDING_TASKS
    expiry_ms: int = FILE_EXPIRY_MS
    cleanup_interval_s: float = CLEANUP_INTERVAL_S
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: list[Pending] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None
    _cleaner: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _owned_root: bool = False

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="atlas-downloads-"))
            self._owned_root = True

    def user_dir(self, kind: str, user: str) -> Path:
        assert self.root is not None
        return self.root / kind / user_dir_name(user)

    # -- queueing -------------------------------------------------------------------------------------------
    def queue(self, kind: str, user: str, file_name: str, work: Work) -> str:
        """Queue ``work`` to write the user's file ``file_name`` (made unique among the user's files and tasks:
        Atlas's names only differ by the time, so two requests in the same instant would share one); the name."""
        with self._lock:
            if self._stop.is_set():
                raise AtlasError(ErrorCode.BAD_REQUEST, "the store is closing")
            of_kind = [p for p in self._pending if p.kind == kind]
            if len(of_kind) > self.max_pending:  # Atlas: pendingTasks.size() > MAX_PENDING_TASKS_ALLOWED
                # Atlas: 409 PENDING_TASKS_ALREADY_IN_PROGRESS (ATLAS-409-00-013), which errors.py does not have yet
                raise AtlasError(ErrorCode.PENDING_TASKS_ALREADY_IN_PROGRESS, len(of_kind))
            file_name = self._unique(kind, user, file_name)
            task = Pending(kind, file_name, user, now_ms())
            self._pending.append(task)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="atlas-download")
            self._start_cleaner()
            self._pool.submit(self._run, task, work)
        return file_name

    def _unique(self, kind: str, user: str, file_name: str) -> str:
        taken = {p.file_name for p in self._pending if p.kind == kind and p.user == user}
        stem, dot, ext = file_name.rpartition(".")
        candidate, n = file_name, 1
        while candidate in taken or (self.user_dir(kind, user) / candidate).exists():
            n += 1
            candidate = f"{stem}_{n}{dot}{ext}"
        return candidate

    def _run(self, task: Pending, work: Work) -> None:
        task.start_ms = now_ms()
        directory = self.user_dir(task.kind, task.user)
        part = directory / f"{_PART}{task.file_name}"
        try:
            content = None if self._stop.is_set() else work()
            if content is not None:
                directory.mkdir(parents=True, exist_ok=True)
                part.write_bytes(content)
            with self._lock:  # the file appears and the task goes in one step: listed once, never twice
                if content is not None:
                    part.replace(directory / task.file_name)
                self._pending.remove(task)
        except Exception:
            log.exception("download task for %s (%s) failed", task.file_name, task.user)
            part.unlink(missing_ok=True)
            with self._lock:
                if task in self._pending:
                    self._pending.remove(task)

    # -- reading --------------------------------------------------------------------------------------------
    def status(self, kind: str, user: str) -> dict[str, Any]:
        """AtlasSearchResultDownloadStatus: the user's pending tasks, then the user's files (COMPLETE)."""
        self._start_cleaner()
        with self._lock:
            records = [p.record() for p in self._pending if p.kind == kind and p.user == user]
            directory = self.user_dir(kind, user)
            files = sorted(((f.stat().st_mtime_ns // 1_000_000, f.name) for f in directory.iterdir()
                            if f.is_file() and not f.name.startswith(_PART)), key=lambda t: (t[0], t[1])
                           ) if directory.is_dir() else []
        records += [{"status": "COMPLETE", "fileName": name, "createdBy": user, "createdTime": created}
                    for created, name in files]
        return {"searchDownloadRecords": records}

    def file(self, kind: str, user: str, file_name: str) -> Path | None:
        """The user's complete file of that (checked) name, or None. The name is checked before this is called;
        resolving it again keeps any name that would leave the user's directory out (Atlas's canonical path
        check)."""
        if file_name.startswith(_PART):
            return None
        directory = self.user_dir(kind, user).resolve()
        path = (directory / file_name).resolve()
        if path.parent != directory:
            raise AtlasError(ErrorCode.BAD_REQUEST, INVALID_FILE_NAME)
        return path if path.is_file() else None

    # -- cleaning up ----------------------------------------------------------------------------------------
    def _start_cleaner(self) -> None:
        if self._cleaner is None and not self._stop.is_set():
            self._cleaner = threading.Thread(target=self._clean_loop, name="atlas-download-cleanup", daemon=True)
            self._cleaner.start()

    def _clean_loop(self) -> None:
        while True:
            self.remove_expired()
            if self._stop.wait(self.cleanup_interval_s):
                return

    def remove_expired(self) -> int:
        """Delete the files older than the expiry (the factories' cleanupExpiredFiles); how many."""
        assert self.root is not None
        oldest = (now_ms() - self.expiry_ms) * 1_000_000
        removed = 0
        with self._lock:
            for f in self.root.glob("*/*/*"):
                try:
                    if f.is_file() and not f.name.startswith(_PART) and f.stat().st_mtime_ns < oldest:
                        f.unlink()
                        removed += 1
                except OSError:
                    log.warning("could not delete expired download %s", f, exc_info=True)
        return removed

    def close(self) -> None:
        """Stop: queued tasks are dropped, running ones finish; a temporary root is removed."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._cleaner is not None:
            self._cleaner.join()
        if self._owned_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


_BY_STORE: weakref.WeakKeyDictionary[EmbeddedStore, Downloads] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def of(store: EmbeddedStore) -> Downloads:
    """The store's downloads (files under its directory), stopped when the store closes."""
    with _BY_STORE_LOCK:
        found = _BY_STORE.get(store)
        if found is None:
            directory = getattr(store, "directory", None)
            found = _BY_STORE[store] = Downloads(Path(directory) if directory is not None else None)
            store.on_close(found.close)
        return found


def csv_line(fields: Sequence[str | None]) -> str:
    """One line as opencsv's CSVWriter writes it by default: every value quoted (quotes doubled), a null as
    nothing, lines ending in ``\\n``."""
    return ",".join("" if f is None else '"' + f.replace('"', '""') + '"' for f in fields) + "\n"


def attachment(file_name: str) -> tuple[tuple[str, str], ...]:
    """The Content-Disposition of a file sent (a header holds ASCII only: anything else becomes ``_``)."""
    shown = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in file_name)
    return (("Content-Disposition", f'attachment; filename="{shown}"'),)
