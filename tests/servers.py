"""Test helpers for servers: free ports, waiting for a condition or for an HTTP server, uvicorn in a thread.

Every test that starts a server (a thread, a subprocess) takes its port and its readiness wait from here.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all sockets held open until every port is picked)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1,
               what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; its value, or AssertionError after ``timeout``.
    Connection errors, missing keys and unparsable answers count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def wait_http(url: str, *, timeout: float, auth: tuple[str, str] | None = None,
              proc: subprocess.Popen[Any] | None = None, logs: Callable[[], str] | None = None) -> None:
    """Wait until ``GET url`` answers 200. If ``proc`` exits first, or the time runs out, RuntimeError with
    ``logs()``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{logs() if logs else ''}")
        try:
            if httpx.get(url, auth=auth, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready within {timeout:.0f}s:\n{logs() if logs else ''}")
        time.sleep(0.05)


@dataclass
class ThreadServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(app: Any, timeout: float = 10.0) -> ThreadServer:
    """Serve ``app`` with uvicorn over real HTTP on a free loopback port, in a daemon thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return ThreadServer(f"http://127.0.0.1:{port}", server, thread)


@contextmanager
def serving_in_thread(app: Any) -> Iterator[ThreadServer]:
    running = start_in_thread(app)
    try:
        yield running
    finally:
        running.stop()
