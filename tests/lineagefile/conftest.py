"""Shared paths and fixtures for the lineage file tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from catalog.lineagefile import yamlnodes

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "lineage_yml_examples"
INVALID = EXAMPLES / "invalid"
VALID_EXAMPLES = sorted(p for p in EXAMPLES.glob("*/lineage.y*ml") if p.parent.name != "invalid")
INVALID_EXAMPLES = sorted(INVALID.iterdir())

PARSERS = ["libyaml", "pure-python"] if yaml.__with_libyaml__ else ["pure-python"]


@pytest.fixture(params=PARSERS)
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test with libyaml's parser (when PyYAML has it) and with PyYAML's pure-Python one."""
    monkeypatch.setattr(yamlnodes, "_USE_LIBYAML", request.param == "libyaml")
    yield request.param
