"""Process helpers shared by the benchmark scripts (each server runs in its own process, stopped by PID)."""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    """utime+stime of a process, in seconds (Linux /proc); nan elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def log_tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_bytes()[-n:].decode(errors="replace")
    except OSError:
        return ""


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0, kill_wait: float | None = None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout if kill_wait is None else kill_wait)


class ServerProcess:
    """``python -c script *args`` with the repo on PYTHONPATH, output to ``log_path``; returns once
    GET ``ready_path`` answers 200 (90 s at most), else stops it and raises with the log's tail."""

    def __init__(self, name: str, script: str, args: list[str], port: int, log_path: Path,
                 ready_path: str, auth: tuple[str, str] | None) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=str(REPO), env=env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        try:
            self._wait_ready(ready_path, auth)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0

    def _wait_ready(self, ready_path: str, auth: tuple[str, str] | None) -> None:
        deadline = time.monotonic() + 90
        with httpx.Client(auth=auth, timeout=5.0) as c:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} server exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if c.get(self.url + ready_path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} server not ready after 90 s:\n{self.log_tail()}")
                time.sleep(0.05)

    def log_tail(self, n: int = 4000) -> str:
        return log_tail(self.log_path, n)

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        terminate(self.proc, timeout)
        self._log.close()


class PgDatabases:
    """Throwaway PostgreSQL databases ``<prefix>_<pid>_<suffix>``, created through an admin URL and dropped at
    the end (``drop_all``)."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.admin_url = admin_url
        self.prefix = prefix
        self.names: list[str] = []
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            self.version = str(row[0]) if row else "?"

    def create(self, suffix: str) -> str:
        name = f"{self.prefix}_{os.getpid()}_{suffix}"
        with self._psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def size(self, url: str) -> str:
        with self._psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return f"{int(row[0]) / 2**20:,.0f} MiB" if row else "?"

    def drop_all(self) -> None:
        with self._psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def find_pg_admin_url(given: str | None, prefix: str) -> tuple[PgDatabases | None, str]:
    """The PostgreSQL to create databases in: ``given``, else 127.0.0.1:5432 as this user or postgres."""
    candidates = [given] if given else [f"postgresql://{u}@127.0.0.1:5432/postgres"
                                        for u in (getpass.getuser(), "postgres")]
    errors = []
    for url in candidates:
        try:
            return PgDatabases(url, prefix), ""
        except Exception as exc:  # noqa: BLE001 - any driver failure means "try the next candidate"
            errors.append(f"{url}: {str(exc).strip().splitlines()[0]}")
    return None, "PostgreSQL not reachable (" + "; ".join(errors) + ")"


# -- what the scripts print ----------------------------------------------------------------------------------


@contextlib.contextmanager
def phase(title: str) -> Iterator[None]:
    print(f"\n== {title}", flush=True)
    started = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def print_summary(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """The closing table of a benchmark, as Markdown (ready for a note or benchmarks/README.md)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("\n== summary")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
