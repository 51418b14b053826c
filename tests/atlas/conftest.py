"""The Atlas client contract's fixture: one client per way the client reaches an Atlas.

* ``embedded``: ``atlas+embedded:///dir``, the in-process transport (what ``mlcatalog up`` uses by default);
* ``http``: the same kind of store served by uvicorn over real HTTP (what a real Atlas looks like to the client);
* ``atlas``: a real Apache Atlas, when :data:`ATLAS_URL` names one (skipped otherwise)::

      ATLAS_URL=https://gw/gateway/cdp-proxy-api/atlas ATLAS_USER=admin ATLAS_PASSWORD=... \\
          ATLAS_CA_BUNDLE=ca.pem python -m pytest tests/atlas/test_client.py -k "[atlas]"

  mlcatalog's typedefs are applied to it first (as ``mlcatalog typedefs apply`` does), and the tests leave entities
  and classification types with unique names behind: point it at an Atlas for testing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.atlas.client import AtlasCatalogClient
from catalog.atlas.connect import open_atlas
from catalog.registration import apply_typedefs
from tests.conftest import ATLAS_PASSWORD, start_atlas

#: The real Atlas the contract also runs against: its URL (a gateway's path prefix is fine), user and password, and
#: the PEM file of the CA that signed its certificate when that is none of the default ones.
ATLAS_URL, ATLAS_USER, ATLAS_PASSWORD_VAR, ATLAS_CA_BUNDLE = (
    "ATLAS_URL", "ATLAS_USER", "ATLAS_PASSWORD", "ATLAS_CA_BUNDLE")
NO_REAL_ATLAS = (f"no real Atlas: set {ATLAS_URL} (with {ATLAS_USER}, {ATLAS_PASSWORD_VAR} and, for a CA of your "
                 f"own, {ATLAS_CA_BUNDLE}) to run the contract against one")


@pytest.fixture(scope="session")
def real_atlas() -> Iterator[AtlasCatalogClient]:
    """A client of the Atlas :data:`ATLAS_URL` names, with mlcatalog's typedefs applied (once a session)."""
    url = os.environ.get(ATLAS_URL, "").strip()
    if not url:
        pytest.skip(NO_REAL_ATLAS)
    ca_bundle = os.environ.get(ATLAS_CA_BUNDLE, "").strip()
    with open_atlas(url, user=os.environ.get(ATLAS_USER, "").strip() or "admin",
                    password=os.environ.get(ATLAS_PASSWORD_VAR, ""),
                    verify=Path(ca_bundle).expanduser() if ca_bundle else True) as client:
        apply_typedefs(client)
        yield client


@pytest.fixture(params=["embedded", "http", "atlas"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AtlasCatalogClient]:
    if request.param == "atlas":
        yield request.getfixturevalue("real_atlas")
        return
    if request.param == "embedded":
        c = open_atlas(f"atlas+embedded://{tmp_path / 'store'}")
        yield c
        c.close()
        return
    running = start_atlas(tmp_path / "store")
    try:
        with AtlasCatalogClient(running.url, "admin", ATLAS_PASSWORD) as c:
            yield c
    finally:
        running.stop()
