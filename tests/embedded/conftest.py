"""Fixtures shared by the tests in tests/embedded."""

from __future__ import annotations

import pytest
from apache_atlas.client.base_client import AtlasClient

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER


@pytest.fixture(scope="module")
def client(atlas_url: str) -> AtlasClient:
    return AtlasClient(atlas_url, (ATLAS_USER, ATLAS_PASSWORD))
