"""A model replica: one process serving one predict function, one request at a time (as CML's replicas do).

The gateway talks to it over a Unix socket with length-prefixed frames (cheaper than HTTP on the hot path):
a request frame is the time by which it must start, then the JSON of the model's input (the gateway may queue a
request behind another; one that waited past its start-by time is answered EXPIRED and not run); an answer frame
is one status byte, then for OK the complete JSON body the gateway returns (``{"success": true, "response": ...,
"ReplicaID": ...}``, passed through without re-encoding), for ERROR ``{"error_id", "replica"}``. Each connection
is served by a plain blocking thread (recv, predict, send: no event-loop hops on the hot path); one prediction
runs at a time. A frame whose body is just :data:`HEALTH` (too short to be a request, so telling the two apart
costs the hot path nothing) is answered at once, even while a prediction runs: OK, then a small JSON (replica,
pid, predictions served, poll counters); the supervisor's readiness check. The socket is bound only once the
model is loaded, so an answer means ready.
Every prediction gets a UUID: a function not decorated with ``@model_metrics`` is wrapped by the replica.

User code owns the top-level names of our packages (a project may have its own ``serving/`` or ``catalog/``):
before the model is imported the replica imports all it needs of ours, then hides our packages
(:func:`seal_own_packages`), so from user code ``import cdsw`` is the SDK and every other name of ours resolves
to the project's package or to nothing.

Run as ``python -m serving.replica`` with ``MLCATALOG_REPLICA_CONFIG`` (JSON) in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from serving import sdk
from serving.poll import AdaptivePoll, PollCounts

REPLICA_CONFIG_ENV = "MLCATALOG_REPLICA_CONFIG"  # the replica's configuration (JSON), set by the supervisor
HEADER = struct.Struct("!I")
START_BY = struct.Struct("!d")  # a request frame's first field: its deadline to start (time.monotonic())
MAX_FRAME = 64 * 1024 * 1024
OK = b"\x00"
ERROR = b"\x01"
EXPIRED = b"\x02"  # the request waited in the connection past its start-by deadline and was not run
HEALTH = b"H"  # a whole request body shorter than START_BY: a health check, not a prediction
#: Our top-level packages that user code must not see (it may have its own of these names); ``cdsw`` it must.
OWN_PACKAGES = ("catalog", "serving", "typedefs", "mlcatalog")
SDK_PACKAGE = "cdsw"
log = logging.getLogger("mlcatalog.replica")


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


def ok_frame(response: Any, replica_id: str) -> bytes:
    """The gateway's whole 200 body, built here so the gateway forwards it as is."""
    return frame(OK + b'{"success":true,"response":' + _dumps(response) + b',"ReplicaID":' + _dumps(replica_id)
                 + b"}")


def error_frame(error_id: str, replica_id: str) -> bytes:
    return frame(ERROR + _dumps({"error_id": error_id, "replica": replica_id}))


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=_fallback)


def _fallback(obj: Any) -> Any:
    for attr in ("tolist", "item"):
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    return str(obj)


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    """``size`` bytes, or None if the peer closed the connection first."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = conn.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buf)


class HideOwnPackages(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: a name in ``names`` (or under one) is looked up by the other finders as usual,
    except that nothing inside ``dirs`` (our packages' directories) is accepted, so a same-named package elsewhere
    on ``sys.path`` (the project's) is found, and if there is none the import fails with ModuleNotFoundError
    rather than falling through to ours (later finders, e.g. an editable install's, would find ours)."""

    def __init__(self, names: Iterable[str], dirs: Iterable[Path],
                 hidden: dict[str, types.ModuleType] | None = None) -> None:
        self.names = frozenset(names)
        self.dirs = tuple(d.resolve() for d in dirs)
        self.hidden = hidden or {}  # the modules taken out of sys.modules: still in use by the SDK, kept alive

    def _ours(self, location: str | os.PathLike[str]) -> bool:
        resolved = Path(location).resolve()
        return any(resolved.is_relative_to(d) for d in self.dirs)

    def _spec_is_ours(self, spec: importlib.machinery.ModuleSpec) -> bool:
        if spec.has_location and spec.origin and self._ours(spec.origin):
            return True
        return any(self._ours(loc) for loc in spec.submodule_search_locations or ())

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        # The path entries where this name would be one of ours are left out (for a top-level name: our install
        # directory; for a submodule: our package's directory), so PathFinder goes on to the other entries.
        last = fullname.rpartition(".")[2]
        entries = [e for e in (sys.path if path is None else list(path)) if not self._ours(Path(e, last))]
        for finder in sys.meta_path:
            if finder is self:
                continue
            if finder is importlib.machinery.PathFinder:
                spec = importlib.machinery.PathFinder.find_spec(fullname, entries, target)
            else:
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if find is not None else None
            if spec is not None and not self._spec_is_ours(spec):
                return spec
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def seal_own_packages() -> HideOwnPackages:
    """Hand our package names over to user code: take our modules (but ``cdsw``'s) out of ``sys.modules`` and put
    :class:`HideOwnPackages` first on ``sys.meta_path``.

    Everything the replica and the SDK will run must be imported before this: the module objects live on (the
    functions holding them keep them), but a later ``import serving...`` would find the project's package or
    nothing. Hence ``cdsw`` is imported here, and the metrics store was opened by :func:`sdk.configure_replica`."""
    importlib.import_module(SDK_PACKAGE)
    # Our packages are installed side by side (one distribution), so the ones not imported are found next to sdk.
    root = Path(sdk.__file__).resolve().parents[1]
    dirs = {root / name for name in OWN_PACKAGES}
    for name in OWN_PACKAGES:
        module = sys.modules.get(name)
        dirs.update(Path(p) for p in getattr(module, "__path__", ()))
    hidden = {name: module for name, module in list(sys.modules.items())
              if name.partition(".")[0] in OWN_PACKAGES}
    for name in hidden:
        del sys.modules[name]
    finder = HideOwnPackages(OWN_PACKAGES, dirs, hidden)
    sys.meta_path.insert(0, finder)
    return finder


def load_function(file: Path, function: str) -> Callable[..., Any]:
    """Import the model file as a module (its directory on sys.path, like a CML project) and return the function."""
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem.replace("-", "_"), file)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise RuntimeError(f"{file} has no function {function!r}")
    wrapped: Callable[..., Any] = sdk.model_metrics(fn)  # no-op when already decorated
    return wrapped


class Replica:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.replica_id: str = cfg["replica_id"]
        self.fn: Callable[..., Any] | None = None
        self.served = 0
        self.poll_s = float(cfg.get("poll_us", 0)) / 1e6
        self.poll_counts = PollCounts()
        # One prediction at a time (model code need not be thread-safe); also what shutdown waits on.
        self._predict_lock = threading.Lock()
        self._stopping = False

    def predict(self, payload: bytes) -> bytes:
        assert self.fn is not None
        try:
            args = orjson.loads(payload)
            result = self.fn(args)
            out = ok_frame(result, self.replica_id)
            self.served += 1
            return out
        except Exception:  # noqa: BLE001 - the model's own failure: logged here, an id goes to the caller
            error_id = secrets.token_hex(8)
            log.error("prediction failed (error id %s):\n%s", error_id, traceback.format_exc())
            return error_frame(error_id, self.replica_id)

    def serve_connection(self, conn: socket.socket) -> None:
        with conn:
            self._serve(conn, AdaptivePoll(conn.fileno(), self.poll_s, counts=self.poll_counts))

    def _serve(self, conn: socket.socket, poller: AdaptivePoll) -> None:
        while True:
            try:
                poller.wait()
                head = _recv_exact(conn, HEADER.size)
                if head is None:
                    return
                (size,) = HEADER.unpack(head)
                if size > MAX_FRAME:
                    log.error("frame of %d bytes is too large; closing the connection", size)
                    return
                request = _recv_exact(conn, size)
                if request is None:
                    return
                if size < START_BY.size:
                    if request != HEALTH:
                        return
                    conn.sendall(frame(OK + self.health()))  # not under the lock: answered while predicting
                    continue
                (start_by,) = START_BY.unpack_from(request)
                with self._predict_lock:
                    if self._stopping:
                        return  # unanswered: the gateway retries it on another replica
                    if time.monotonic() > start_by:
                        conn.sendall(frame(EXPIRED))
                        continue
                    # Sent under the lock too, so shutdown never cuts off an answer already computed.
                    conn.sendall(self.predict(request[START_BY.size:]))
            except OSError:
                return

    def accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # listener closed: shutting down
            threading.Thread(target=self.serve_connection, args=(conn,), name="rpc", daemon=True).start()

    def _load(self) -> None:
        self.fn = load_function(Path(self.cfg["file"]), self.cfg["function"])

    def health(self) -> bytes:
        """The JSON of the answer to a HEALTH frame."""
        return json.dumps({"status": "ok", "replica": self.replica_id, "pid": os.getpid(),
                           "deployment_crn": self.cfg.get("deployment_crn"), "served": self.served,
                           "poll": {"max_us": round(self.poll_s * 1e6), "polled": self.poll_counts.polled,
                                    "slept": self.poll_counts.slept}}).encode()

    @staticmethod
    async def _exit_with_parent(stop: asyncio.Event) -> None:
        """A platform killed with SIGKILL can't stop its replicas; they notice being re-parented and exit."""
        parent = os.getppid()
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if os.getppid() != parent:
                log.warning("platform process %d is gone; replica exiting", parent)
                stop.set()

    async def run(self) -> None:
        sdk.configure_replica(self.cfg["deployment_crn"], self.cfg["build_crn"], self.cfg["model_crn"],
                              self.cfg["metrics_url"])
        seal_own_packages()  # last thing before user code runs (its import is the next step)
        os.chdir(self.cfg["project_dir"])
        loop = asyncio.get_running_loop()
        # Importing the model may take a while (and may itself predict, like CML's warm-up calls).
        await loop.run_in_executor(None, self._load)
        sock = Path(self.cfg["socket"])
        sock.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(sock))
        listener.listen(16)
        threading.Thread(target=self.accept_loop, args=(listener,), name="rpc-accept", daemon=True).start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        orphan_watch = asyncio.create_task(self._exit_with_parent(stop))
        log.info("replica %s ready", self.replica_id)
        await stop.wait()
        orphan_watch.cancel()
        sock.unlink(missing_ok=True)
        # shutdown() wakes the accept() blocked in the other thread; close() alone does not on Linux.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        await loop.run_in_executor(None, self._finish)

    def _finish(self) -> None:
        """Let the prediction in flight finish (its record and answer included), refuse new ones, close."""
        with self._predict_lock:
            self._stopping = True
        sdk._ctx().store.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # Removed before the model loads: it names the metrics store (with its credentials) and the model's code has no
    # business reading it from the environment.
    cfg = json.loads(os.environ.pop(REPLICA_CONFIG_ENV))
    try:
        asyncio.run(Replica(cfg).run())
    except Exception:
        log.exception("replica failed to start")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
