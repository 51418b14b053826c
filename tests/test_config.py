"""Settings precedence (flags > environment > config file > defaults) and the password rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcatalog.settings import ConfigError, Settings, is_loopback_host, load_settings

FILE = """
[server]
host = "127.0.0.2"
port = 1111
store = "file-store"

[atlas]
password = "file-pw"
"""

ENV = {
    "MLCATALOG_HOST": "127.0.0.3",
    "MLCATALOG_PORT": "2222",
    "MLCATALOG_STORE": "env-store",
    "MLCATALOG_ATLAS_PASSWORD": "env-pw",
}

FLAGS = {"server.host": "127.0.0.4", "server.port": 3333, "server.store": Path("flag-store")}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def password(settings: Settings) -> str | None:
    return None if settings.atlas.password is None else settings.atlas.password.get_secret_value()


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(environ={}, cwd=tmp_path)
    assert s.server.host == "127.0.0.1"
    assert s.server.port == 21000
    assert s.server.store == tmp_path / ".mlcatalog"
    assert s.atlas.password is None


def test_file_beats_defaults(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    s = load_settings(environ={}, cwd=tmp_path)
    assert (s.server.host, s.server.port, s.server.store) == ("127.0.0.2", 1111, tmp_path / "file-store")
    assert password(s) == "file-pw"


def test_file_may_set_only_some_keys(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", "[server]\nport = 1111\n")
    s = load_settings(environ={}, cwd=tmp_path)
    assert (s.server.host, s.server.port, s.atlas.password) == ("127.0.0.1", 1111, None)


def test_env_beats_file(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    s = load_settings(environ=ENV, cwd=tmp_path)
    assert (s.server.host, s.server.port, s.server.store) == ("127.0.0.3", 2222, tmp_path / "env-store")
    assert password(s) == "env-pw"


def test_flags_beat_env(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    s = load_settings(FLAGS, environ=ENV, cwd=tmp_path)
    assert (s.server.host, s.server.port, s.server.store) == ("127.0.0.4", 3333, tmp_path / "flag-store")
    assert password(s) == "env-pw"  # no flag for it: the environment wins over the file


def test_precedence_is_per_setting(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    s = load_settings({"server.port": 3333, "server.host": None}, environ={"MLCATALOG_HOST": "127.0.0.3"},
                      cwd=tmp_path)
    assert (s.server.host, s.server.port, s.server.store) == ("127.0.0.3", 3333, tmp_path / "file-store")


def test_empty_env_var_counts_as_unset(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    s = load_settings(environ=dict.fromkeys(ENV, ""), cwd=tmp_path)
    assert (s.server.host, s.server.port) == ("127.0.0.2", 1111)
    assert password(s) == "file-pw"


def test_explicit_config_file_replaces_local_one(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", FILE)
    other = write(tmp_path / "etc" / "other.toml", '[server]\nport = 4444\nstore = "data"\n')
    s = load_settings(environ={"MLCATALOG_CONFIG": str(other)}, cwd=tmp_path)
    assert s.server.port == 4444
    assert s.server.host == "127.0.0.1"  # ./mlcatalog.toml is not read at all
    assert s.server.store == tmp_path / "etc" / "data"  # relative to the config file


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MLCATALOG_CONFIG"):
        load_settings(environ={"MLCATALOG_CONFIG": str(tmp_path / "nope.toml")}, cwd=tmp_path)


def test_absolute_store_paths_are_kept(tmp_path: Path) -> None:
    s = load_settings({"server.store": tmp_path / "abs"}, environ={}, cwd=tmp_path / "elsewhere")
    assert s.server.store == tmp_path / "abs"


def test_settings_are_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (*ENV, "MLCATALOG_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCATALOG_PORT", "5555")
    assert load_settings().server.port == 5555
    monkeypatch.setenv("MLCATALOG_PORT", "5556")
    assert load_settings().server.port == 5556


@pytest.mark.parametrize(
    ("file_text", "environ", "flags", "message"),
    [
        ("", {"MLCATALOG_PORT": "http"}, {}, "server.port (from environment variable MLCATALOG_PORT)"),
        ("", {"MLCATALOG_PORT": "70000"}, {}, "server.port (from environment variable MLCATALOG_PORT)"),
        ("", {}, {"server.port": 0}, "server.port (from command line)"),
        ("[server]\nprot = 1\n", {}, {}, "server.prot (from config file"),
        ("[sever]\nport = 1\n", {}, {}, "sever (from config file"),
        ("[server]\nport = 'x'\n", {}, {}, "server.port (from config file"),
        ("port = 1\n", {}, {}, "'port' must be a table"),
        ("[server\n", {}, {}, "invalid TOML"),
    ],
)
def test_invalid_settings_name_their_source(tmp_path: Path, file_text: str, environ: dict[str, str],
                                            flags: dict[str, object], message: str) -> None:
    if file_text:
        write(tmp_path / "mlcatalog.toml", file_text)
    with pytest.raises(ConfigError) as info:
        load_settings(flags, environ=environ, cwd=tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# -- password rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LocalHost"])
def test_loopback_host_defaults_to_admin(tmp_path: Path, host: str) -> None:
    assert is_loopback_host(host)
    s = load_settings({"server.host": host}, environ={}, cwd=tmp_path)
    assert s.uses_default_password
    assert s.atlas_server_password() == "admin"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "localhost.example"])
def test_non_loopback_host_requires_a_password(tmp_path: Path, host: str) -> None:
    assert not is_loopback_host(host)
    s = load_settings({"server.host": host}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="MLCATALOG_ATLAS_PASSWORD") as info:
        s.atlas_server_password()
    assert host in str(info.value)


@pytest.mark.parametrize("blank", [" ", "   ", "\t", " \n "])
def test_a_whitespace_password_is_no_password(tmp_path: Path, blank: str) -> None:
    s = load_settings({"server.host": "0.0.0.0"}, environ={
        "MLCATALOG_ATLAS_PASSWORD": blank, "MLCATALOG_API_TOKEN": blank, "MLCATALOG_ADMIN_KEY": blank * 16,
        "MLCATALOG_WEBHOOK_SECRET": blank * 16, "MLCATALOG_API_KEY": blank, "MLCATALOG_HIVE_PASSWORD": blank,
        "MLCATALOG_S3_SECRET_ACCESS_KEY": blank}, cwd=tmp_path)
    assert (s.atlas.password, s.api.token, s.api.admin_key, s.monitoring.webhook_secret, s.client.api_key,
            s.hive.password, s.s3.secret_access_key) == (None,) * 7
    with pytest.raises(ConfigError, match="MLCATALOG_ATLAS_PASSWORD"):
        s.atlas_server_password()  # not a password on a reachable host
    (tmp_path / "mlcatalog.toml").write_text('[atlas]\npassword = "  "\n')
    assert load_settings(environ={}, cwd=tmp_path).atlas.password is None


def test_configured_password_is_used_on_any_host(tmp_path: Path) -> None:
    s = load_settings({"server.host": "0.0.0.0"}, environ={"MLCATALOG_ATLAS_PASSWORD": "s3cret"}, cwd=tmp_path)
    assert not s.uses_default_password
    assert s.atlas_server_password() == "s3cret"
    s = load_settings(environ={"MLCATALOG_ATLAS_PASSWORD": "s3cret"}, cwd=tmp_path)
    assert s.atlas_server_password() == "s3cret"  # also on loopback: no silent fallback to admin


def test_password_from_file(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", '[server]\nhost = "0.0.0.0"\n[atlas]\npassword = "from-file"\n')
    assert load_settings(environ={}, cwd=tmp_path).atlas_server_password() == "from-file"


def test_empty_password_counts_as_unset(tmp_path: Path) -> None:
    write(tmp_path / "mlcatalog.toml", '[server]\nhost = "0.0.0.0"\n[atlas]\npassword = ""\n')
    s = load_settings(environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError):
        s.atlas_server_password()


def test_password_is_not_shown(tmp_path: Path) -> None:
    s = load_settings(environ={"MLCATALOG_ATLAS_PASSWORD": "s3cret"}, cwd=tmp_path)
    assert "s3cret" not in repr(s)
    assert "s3cret" not in str(s.model_dump())


def test_replica_polling_budget_from_env_and_file(tmp_path: Path) -> None:
    assert load_settings(environ={}, cwd=tmp_path).serving.replica_poll_us == 1000
    write(tmp_path / "mlcatalog.toml", "[serving]\nreplica_poll_us = 250\n")
    assert load_settings(environ={}, cwd=tmp_path).serving.replica_poll_us == 250
    assert load_settings(environ={"MLCATALOG_REPLICA_POLL_US": "0"}, cwd=tmp_path).serving.replica_poll_us == 0
    with pytest.raises(ConfigError, match="MLCATALOG_REPLICA_POLL_US"):
        load_settings(environ={"MLCATALOG_REPLICA_POLL_US": "-5"}, cwd=tmp_path)


def test_atlas_ui_url_for_lineage_links(tmp_path: Path) -> None:
    assert load_settings(environ={}, cwd=tmp_path).atlas_ui_url() is None  # the embedded store serves no UI
    embedded = load_settings(environ={"MLCATALOG_ATLAS_URL": "atlas+embedded:///srv/store"}, cwd=tmp_path)
    assert embedded.atlas_ui_url() is None
    real = load_settings(environ={"MLCATALOG_ATLAS_URL": "https://svc:pw@atlas.example:31443/atlas"}, cwd=tmp_path)
    assert real.atlas_ui_url() == "https://atlas.example:31443/atlas"  # the configured Atlas, no credentials
    write(tmp_path / "mlcatalog.toml", '[atlas]\nui_url = "https://knox.example/gateway/cdp-proxy/atlas"\n')
    assert load_settings(environ={}, cwd=tmp_path).atlas_ui_url() == "https://knox.example/gateway/cdp-proxy/atlas"
    env = {"MLCATALOG_ATLAS_UI_URL": "http://ui.example:21000", "MLCATALOG_ATLAS_URL": "https://atlas.example"}
    assert load_settings(environ=env, cwd=tmp_path).atlas_ui_url() == "http://ui.example:21000"
    assert load_settings(environ={"MLCATALOG_ATLAS_UI_URL": ""}, cwd=tmp_path).atlas.ui_url == \
        "https://knox.example/gateway/cdp-proxy/atlas"
    with pytest.raises(ConfigError, match="MLCATALOG_ATLAS_UI_URL"):
        load_settings(environ={"MLCATALOG_ATLAS_UI_URL": "atlas.example"}, cwd=tmp_path)


def test_api_body_limit_from_env_and_file(tmp_path: Path) -> None:
    assert load_settings(environ={}, cwd=tmp_path).api.max_body_mb == 5
    write(tmp_path / "mlcatalog.toml", "[api]\nmax_body_mb = 20\n")
    assert load_settings(environ={}, cwd=tmp_path).api.max_body_mb == 20
    assert load_settings(environ={"MLCATALOG_API_MAX_BODY_MB": "1"}, cwd=tmp_path).api.max_body_mb == 1
    source = r"api\.max_body_mb \(from environment variable MLCATALOG_API_MAX_BODY_MB\)"
    for wrong in ("0", "-1", "2048", "lots"):
        with pytest.raises(ConfigError, match=source):
            load_settings(environ={"MLCATALOG_API_MAX_BODY_MB": wrong}, cwd=tmp_path)


def test_the_openlineage_spool_defaults_under_the_given_environments_state_directory(tmp_path: Path) -> None:
    """The default path comes from the ``environ`` given, like every other setting, never from the process's."""
    home = load_settings({}, environ={"HOME": str(tmp_path / "home")}, cwd=tmp_path)
    assert home.openlineage.spool == tmp_path / "home/.local/state/mlcatalog/openlineage-spool.jsonl"
    xdg = load_settings({}, environ={"HOME": "/h", "XDG_STATE_HOME": str(tmp_path / "state")}, cwd=tmp_path)
    assert xdg.openlineage.spool == tmp_path / "state/mlcatalog/openlineage-spool.jsonl"
    given = load_settings({}, environ={"MLCATALOG_OPENLINEAGE_SPOOL": "spool.jsonl"}, cwd=tmp_path)
    assert given.openlineage.spool == tmp_path / "spool.jsonl"
