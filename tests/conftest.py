"""Shared fixtures: a real embedded Atlas server over HTTP on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore

ATLAS_USER = "admin"
ATLAS_PASSWORD = "test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningAtlas:
    url: str
    store: EmbeddedStore
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.store.close()


def start_atlas(store_dir: Path) -> RunningAtlas:
    """Start the embedded Atlas app in a background thread, served by uvicorn over real HTTP."""
    from typedefs import load_bundled_typedefs

    store = EmbeddedStore(store_dir, load_bundled_typedefs())
    app = standalone_app(store, password=ATLAS_PASSWORD)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("embedded Atlas did not start")
        time.sleep(0.02)
    return RunningAtlas(f"http://127.0.0.1:{port}", store, server, thread)


@pytest.fixture(scope="session")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("atlas-store"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def atlas_url(atlas: RunningAtlas) -> str:
    return atlas.url
