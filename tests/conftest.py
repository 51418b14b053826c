"""Shared fixtures: the embedded Atlas served over real HTTP on a free loopback port.

Real HTTP is the point for these: Atlas's official client (``apache-atlas``, on ``requests``) and the catalog's
client over the network talk to it exactly as to an Atlas elsewhere. Tests of mlcatalog's own API use the
in-process client of tests/inprocess.py instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.embedded.app import standalone_app
from catalog.embedded.store import EmbeddedStore
from tests.servers import ThreadServer, free_port, start_in_thread

__all__ = ["ATLAS_PASSWORD", "ATLAS_USER", "RunningAtlas", "free_port", "start_atlas"]

ATLAS_USER = "admin"
ATLAS_PASSWORD = "test-password"


@dataclass
class RunningAtlas:
    url: str
    store: EmbeddedStore
    server: ThreadServer

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


def start_atlas(store_dir: Path) -> RunningAtlas:
    """Start the embedded Atlas app in a background thread, served by uvicorn over real HTTP."""
    from typedefs import load_bundled_typedefs

    store = EmbeddedStore(store_dir, load_bundled_typedefs())
    try:
        server = start_in_thread(standalone_app(store, password=ATLAS_PASSWORD))
    except BaseException:
        store.close()
        raise
    return RunningAtlas(server.url, store, server)


@pytest.fixture(scope="session")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("atlas-store"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def atlas_url(atlas: RunningAtlas) -> str:
    return atlas.url
