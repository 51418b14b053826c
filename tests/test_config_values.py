"""Settings values that only look right (mlcatalog/settings.py): booleans where numbers belong, NULs in paths, and
config files that tomllib cannot read without a traceback (not UTF-8, nested thousands deep, huge integers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcatalog.settings import ConfigError, load_settings


def from_file(tmp_path: Path, content: bytes) -> object:
    (tmp_path / "mlcatalog.toml").write_bytes(content)
    return load_settings(environ={}, cwd=tmp_path)


@pytest.mark.parametrize(("content", "setting"), [
    (b"[server]\nport = true\n", "server.port"),
    (b"[server]\nport = 21000.0\n", "server.port"),
    (b"[hive]\nport = false\n", "hive.port"),
    (b"[api]\nmax_body_mb = true\n", "api.max_body_mb"),
    (b"[atlas]\nsearch_max_limit = true\n", "atlas.search_max_limit"),
    (b"[serving]\nreplica_poll_us = true\n", "serving.replica_poll_us"),
    (b"[serving]\nbusy_timeout_s = true\n", "serving.busy_timeout_s"),
    (b"[server]\nbody_timeout_s = true\n", "server.body_timeout_s"),
    (b'[server]\nstore = "st\\u0000ore"\n', "server.store"),
    (b'[server]\nstore = "~\\u0000x"\n', "server.store"),
    (b'[serving]\nprojects_root = "/srv\\u0000"\n', "serving.projects_root"),
    (b"[server." + b".".join([b"a"] * 5000) + b"]\nx = 1\n", "server.a"),
    (b"[server]\n" + b".".join([b"a"] * 5000) + b" = 1\n", "server.a"),
])
def test_a_value_of_the_wrong_kind_is_refused_by_its_name(tmp_path: Path, content: bytes, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid setting {setting} \\(from config file "):
        from_file(tmp_path, content)


def test_numbers_come_as_text_from_the_environment(tmp_path: Path) -> None:
    env = {"MLCATALOG_PORT": " 21001 ", "MLCATALOG_HIVE_PORT": "10001", "MLCATALOG_BUSY_TIMEOUT": "0.5",
           "MLCATALOG_REPLICA_POLL_US": "0", "MLCATALOG_API_MAX_BODY_MB": "+7"}
    s = load_settings(environ=env, cwd=tmp_path)
    assert (s.server.port, s.hive.port, s.serving.busy_timeout_s, s.serving.replica_poll_us, s.api.max_body_mb) == \
        (21001, 10001, 0.5, 0, 7)
    (tmp_path / "mlcatalog.toml").write_text("[serving]\nbusy_timeout_s = 30\n")  # an integer number of seconds
    assert load_settings(environ={}, cwd=tmp_path).serving.busy_timeout_s == 30.0
    for value in ("9" * 5000, "1" * 31):
        with pytest.raises(ConfigError, match=r"invalid setting server\.port .*: Value error, number out of range$"):
            load_settings(environ={"MLCATALOG_PORT": value}, cwd=tmp_path)


@pytest.mark.parametrize(("content", "text"), [
    (b'[server]\nhost = "\xff"\n', "not UTF-8 text"),
    (b"[server]\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML: arrays or tables nested too deep"),
    (b"[server]\nx = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n", "invalid TOML: arrays or tables nested"),
    (b"[serving]\nreplica_poll_us = " + b"9" * 5000 + b"\n", "invalid TOML: Exceeds the limit"),
])
def test_a_file_tomllib_cannot_read_is_one_line(tmp_path: Path, content: bytes, text: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_file(tmp_path, content)
    message = str(e.value)
    assert message.startswith(f"config file {tmp_path / 'mlcatalog.toml'}: ") and text in message
    assert "\n" not in message and len(message) < 300
