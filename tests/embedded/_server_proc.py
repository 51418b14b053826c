"""The embedded Atlas server as a REAL OS process (for restart / crash tests).

``ServerProcess(store_dir).start()`` runs ``sys.executable -c SCRIPT`` which builds
``EmbeddedStore(store_dir, load_bundled_typedefs())`` + ``standalone_app(store, password=...)``
and serves it with uvicorn on a free loopback port.  Readiness = ``GET /api/atlas/admin/status`` answering
200 with Basic auth.  ``stop()`` sends SIGTERM (graceful uvicorn shutdown), ``kill()`` sends SIGKILL; both
address the child by its PID only.  Use it as a context manager so the child never outlives the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from tests.servers import free_port, wait_http

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_USER = "admin"

SCRIPT = """
import sys
from pathlib import Path

import uvicorn

from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from typedefs import load_bundled_typedefs

store_dir, port, user, password = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
store = EmbeddedStore(store_dir, load_bundled_typedefs())
app = standalone_app(store, password=password, user=user)
try:
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
finally:
    store.close()
"""


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    def __init__(self, store_dir: Path, password: str, user: str = DEFAULT_USER,
                 log_path: Path | None = None) -> None:
        self.store_dir = store_dir
        self.user = user
        self.password = password
        self.log_path = log_path or store_dir.parent / f"{store_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._log: IO[bytes] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0, attempts: int = 3) -> ServerProcess:
        assert not self.alive(), "already running"
        for attempt in range(attempts):
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except ServerStartError:
                self.kill()
                # The chosen port may have been taken between free_port() and bind(): retry on a new one.
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap()
        self._log.write(f"--- start on port {self.port}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(self.store_dir), str(self.port), self.user, self.password],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, timeout: float) -> None:
        try:
            wait_http(f"{self.url}/api/atlas/admin/status", timeout=timeout, auth=(self.user, self.password),
                      proc=self.proc, logs=self.log_tail)
        except RuntimeError as e:
            raise ServerStartError(str(e)) from None

    def stop(self, timeout: float = 15.0) -> int:
        """Graceful stop: SIGTERM, wait; returns the exit code (SIGKILL if it does not exit in time)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self._reap()

    def kill(self) -> int:
        """SIGKILL by PID, no chance to clean up."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return self._reap()

    def _reap(self) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def session(self) -> requests.Session:
        s = requests.Session()
        s.auth = (self.user, self.password)
        return s

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.alive():
            self.kill()
        elif self.proc is not None and self._log is not None:
            self._reap()
