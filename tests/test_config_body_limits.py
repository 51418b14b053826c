"""Settings of the request body bounds (``[server] body_timeout_s, body_total_timeout_s``) and of the served Atlas
API's limits (``[atlas] max_body_mb, search_max_limit, search_default_limit``): defaults, precedence, bounds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from catalog.embedded.limits import Limits
from catalog.receive_timeout import BodyTimeouts
from mlcatalog.settings import ConfigError, load_settings

FILE = """
[server]
body_timeout_s = 10
body_total_timeout_s = 60

[atlas]
max_body_mb = 32
search_max_limit = 500
search_default_limit = 50
"""

ENV = {"MLCATALOG_BODY_TIMEOUT": "5", "MLCATALOG_BODY_TOTAL_TIMEOUT": "40", "MLCATALOG_ATLAS_MAX_BODY_MB": "8",
       "MLCATALOG_ATLAS_SEARCH_MAX_LIMIT": "200", "MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT": "20"}

FLAGS = {"server.body_timeout_s": 2.5, "server.body_total_timeout_s": 20.0, "atlas.max_body_mb": 4,
         "atlas.search_max_limit": 100, "atlas.search_default_limit": 10}


def values(tmp_path: Path, flags: Mapping[str, object] | None = None, environ: dict[str, str] | None = None
           ) -> tuple[float, float, int, int, int]:
    s = load_settings(flags, environ=environ or {}, cwd=tmp_path)
    return (s.server.body_timeout_s, s.server.body_total_timeout_s, s.atlas.max_body_mb, s.atlas.search_max_limit,
            s.atlas.search_default_limit)


def test_defaults_are_the_libraries(tmp_path: Path) -> None:
    idle, total, max_mb, max_limit, default_limit = values(tmp_path)
    assert (idle, total) == (BodyTimeouts().idle_s, BodyTimeouts().total_s) == (30, 120)
    limits = Limits()
    assert (max_mb * 1024 * 1024, max_limit, default_limit) == (
        limits.max_body_bytes, limits.search_max_limit, limits.search_default_limit) == (16 * 1024 * 1024, 10_000, 100)


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "mlcatalog.toml").write_text(FILE, encoding="utf-8")
    assert values(tmp_path) == (10, 60, 32, 500, 50)
    assert values(tmp_path, environ=ENV) == (5, 40, 8, 200, 20)
    assert values(tmp_path, FLAGS, ENV) == (2.5, 20, 4, 100, 10)
    assert values(tmp_path, environ=dict.fromkeys(ENV, "")) == (10, 60, 32, 500, 50)  # empty: unset


def test_precedence_is_per_setting(tmp_path: Path) -> None:
    (tmp_path / "mlcatalog.toml").write_text(FILE, encoding="utf-8")
    assert values(tmp_path, {"server.body_timeout_s": 1.0}, {"MLCATALOG_ATLAS_MAX_BODY_MB": "2"}) == (
        1, 60, 2, 500, 50)


@pytest.mark.parametrize(("name", "wrong"), [
    ("MLCATALOG_BODY_TIMEOUT", "0"), ("MLCATALOG_BODY_TIMEOUT", "-1"), ("MLCATALOG_BODY_TIMEOUT", "3601"),
    ("MLCATALOG_BODY_TIMEOUT", "soon"), ("MLCATALOG_BODY_TOTAL_TIMEOUT", "0"),
    ("MLCATALOG_BODY_TOTAL_TIMEOUT", "86400"), ("MLCATALOG_ATLAS_MAX_BODY_MB", "0"),
    ("MLCATALOG_ATLAS_MAX_BODY_MB", "2048"), ("MLCATALOG_ATLAS_MAX_BODY_MB", "1.5"),
    ("MLCATALOG_ATLAS_SEARCH_MAX_LIMIT", "0"), ("MLCATALOG_ATLAS_SEARCH_MAX_LIMIT", "100001"),
    ("MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT", "0"), ("MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT", "lots"),
])
def test_out_of_bounds_values_name_their_source(tmp_path: Path, name: str, wrong: str) -> None:
    with pytest.raises(ConfigError, match=f"from environment variable {name}"):
        load_settings(environ={name: wrong}, cwd=tmp_path)


def test_a_default_search_page_over_the_largest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mlcatalog.toml").write_text("[atlas]\nsearch_max_limit = 100\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT": "200"}, cwd=tmp_path)
    message = str(info.value)
    assert "search_default_limit (200) is over search_max_limit (100)" in message and "\n" not in message
    assert values(tmp_path, environ={"MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT": "100"})[3:] == (100, 100)
