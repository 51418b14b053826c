"""mlcatalog's settings, for every part (server, Atlas, resolvers, CRNs, API, serving, clients): one typed model,
one precedence rule, read at start-up (never at import). The libraries (``catalog``, ``serving``) take typed
arguments; only the composition root (this package) reads settings.

Precedence, highest first::

    command-line flags  >  environment (MLCATALOG_*)  >  config file  >  defaults

The config file is ``$MLCATALOG_CONFIG`` if set (it must then exist), else ``./mlcatalog.toml`` if
present. It has one TOML table per settings section::

    [server]
    host = "127.0.0.1"
    port = 21000
    store = "./.mlcatalog"   # relative paths in the file are relative to the file's directory

    [atlas]
    password = "..."

Environment variables are listed in :data:`ENV_VARS`; an empty variable counts as unset.

To add a setting: add a field to a section model (or a new section to :class:`Settings`) and, if it
should be settable from the environment, an entry to :data:`ENV_VARS`. Unknown keys in the config
file are errors, so typos do not silently fall back to defaults.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "ATLAS_UI_PREFIX",
    "ATLAS_USER",
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_LOOPBACK_PASSWORD",
    "EMBEDDED_ATLAS_URL",
    "ENV_VARS",
    "ApiSettings",
    "AtlasSettings",
    "ClientSettings",
    "ConfigError",
    "CrnSettings",
    "HiveSettings",
    "MonitoringSettings",
    "OpenLineageSettings",
    "S3Settings",
    "ServerSettings",
    "ServingSettings",
    "Settings",
    "is_loopback_host",
    "load_settings",
    "redact",
]

CONFIG_ENV = "MLCATALOG_CONFIG"
DEFAULT_CONFIG_FILE = "mlcatalog.toml"

#: Environment variable -> dotted setting name.
ENV_VARS: dict[str, str] = {
    "MLCATALOG_HOST": "server.host",
    "MLCATALOG_PORT": "server.port",
    "MLCATALOG_STORE": "server.store",
    "MLCATALOG_BODY_TIMEOUT": "server.body_timeout_s",
    "MLCATALOG_BODY_TOTAL_TIMEOUT": "server.body_total_timeout_s",
    "MLCATALOG_ATLAS_PASSWORD": "atlas.password",
    "MLCATALOG_ATLAS_URL": "atlas.url",
    "MLCATALOG_ATLAS_USER": "atlas.user",
    "MLCATALOG_ATLAS_UI_URL": "atlas.ui_url",
    "MLCATALOG_ATLAS_UI_DIR": "atlas.ui_dir",
    "MLCATALOG_ATLAS_CA_BUNDLE": "atlas.ca_bundle",
    "MLCATALOG_ATLAS_VERIFY_TLS": "atlas.verify_tls",
    "MLCATALOG_NAMESPACE": "atlas.namespace",
    "MLCATALOG_ATLAS_MAX_BODY_MB": "atlas.max_body_mb",
    "MLCATALOG_ATLAS_SEARCH_MAX_LIMIT": "atlas.search_max_limit",
    "MLCATALOG_ATLAS_SEARCH_DEFAULT_LIMIT": "atlas.search_default_limit",
    "MLCATALOG_HIVE_HOST": "hive.host",
    "MLCATALOG_HIVE_PORT": "hive.port",
    "MLCATALOG_HIVE_USER": "hive.username",
    "MLCATALOG_HIVE_AUTH": "hive.auth",
    "MLCATALOG_HIVE_PASSWORD": "hive.password",
    "MLCATALOG_S3_ENDPOINT": "s3.endpoint_url",
    "MLCATALOG_S3_ACCESS_KEY_ID": "s3.access_key_id",
    "MLCATALOG_S3_SECRET_ACCESS_KEY": "s3.secret_access_key",
    "MLCATALOG_S3_REGION": "s3.region",
    "MLCATALOG_CRN_REGION": "crn.region",
    "MLCATALOG_CRN_ACCOUNT": "crn.account",
    "MLCATALOG_CRN_WORKSPACE": "crn.workspace",
    "MLCATALOG_API_TOKEN": "api.token",
    "MLCATALOG_API_READ_AUTH": "api.read_auth",
    "MLCATALOG_API_MAX_BODY_MB": "api.max_body_mb",
    "MLCATALOG_BUSY_TIMEOUT": "serving.busy_timeout_s",
    "MLCATALOG_REQUEST_TIMEOUT": "serving.request_timeout_s",
    "MLCATALOG_METRICS_URL": "serving.metrics_url",
    "MLCATALOG_STATE_URL": "serving.state_url",
    "MLCATALOG_PUBLIC_URL": "serving.public_url",
    "MLCATALOG_REPLICA_POLL_US": "serving.replica_poll_us",
    "MLCATALOG_START_TIMEOUT": "serving.start_timeout_s",
    "MLCATALOG_BUILD_ENV_KEEP_DAYS": "serving.build_env_keep_days",
    "MLCATALOG_CATALOG_URL": "serving.catalog_url",
    "MLCATALOG_PROJECTS_ROOT": "serving.projects_root",
    "MLCATALOG_ADMIN_KEY": "api.admin_key",
    "MLCATALOG_MONITORING": "monitoring.enabled",
    "MLCATALOG_MONITOR_WORKER": "monitoring.worker",
    "MLCATALOG_WEBHOOK_SECRET": "monitoring.webhook_secret",
    "MLCATALOG_OPENLINEAGE": "openlineage.enabled",
    "MLCATALOG_OPENLINEAGE_CONFIG": "openlineage.config",
    "MLCATALOG_OPENLINEAGE_NAMESPACE": "openlineage.namespace",
    "MLCATALOG_OPENLINEAGE_HIVE_NAMESPACE": "openlineage.hive_namespace",
    "MLCATALOG_OPENLINEAGE_SPOOL": "openlineage.spool",
    "MLCATALOG_URL": "client.url",
    "MLCATALOG_API_KEY": "client.api_key",
}

#: The one user of the Atlas-compatible API (Atlas's own default user name).
ATLAS_USER = "admin"
#: Password used when none is configured -- only ever when serving on a loopback address.
DEFAULT_LOOPBACK_PASSWORD = "admin"
#: Where ``mlcatalog up`` serves Atlas's web UI when it serves one (atlas.ui_dir).
ATLAS_UI_PREFIX = "/atlas"
#: The Atlas of ``mlcatalog up`` unless one is configured: the embedded store it serves, in-process.
EMBEDDED_ATLAS_URL = "atlas+embedded:"
DEFAULT_URL = "http://127.0.0.1:21000"

#: Settings resolved relative to the config file's directory when given there as relative paths.
_PATH_SETTINGS = ("server.store", "serving.projects_root", "atlas.ui_dir", "atlas.ca_bundle", "openlineage.config",
                  "openlineage.spool")


class ConfigError(Exception):
    """Invalid or unusable configuration; ``str(exc)`` is a one-line message for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_MAX_DIGITS = 30  # far beyond any count or port, far below what int() refuses


def _int_from_text(value: Any) -> Any:
    """Environment variables are text: ``"21000"`` is that number. Any other value must be an int already: strict,
    so that TOML's ``port = true`` (an int to lax pydantic) or ``port = 21000.0`` is no port."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        if len(value.strip()) > _MAX_DIGITS:  # int() refuses 4300 digits with advice for programmers
            raise ValueError("number out of range")
        return int(value)
    return value


def _float_from_text(value: Any) -> Any:
    """As :func:`_int_from_text`, for seconds: text is parsed, a boolean is refused (strict: ints are taken)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _usable_path(value: Path) -> Path:
    """``~`` expanded; a NUL refused here, where the message names the setting, not in the first system call."""
    if "\x00" in str(value):
        raise ValueError("a path cannot contain a NUL character")
    return value.expanduser()


#: A number of something (a port, MB, a page size) from TOML, the environment or a flag.
Count = Annotated[int, BeforeValidator(_int_from_text), Strict()]
#: Seconds.
Seconds = Annotated[float, BeforeValidator(_float_from_text), Strict()]
#: A file system path (relative ones are made absolute by :func:`load_settings`).
UsablePath = Annotated[Path, AfterValidator(_usable_path)]


def _blank_is_unset(value: Any) -> Any:
    """A password, token or key of only whitespace is none at all (a mistake, never a credential to accept)."""
    if isinstance(value, SecretStr):
        return None if not value.get_secret_value().strip() else value
    return None if isinstance(value, str) and not value.strip() else value


class ServerSettings(_Section):
    host: str = Field(default="127.0.0.1", min_length=1, description="address to bind")
    port: Count = Field(default=21000, ge=1, le=65535, description="TCP port to bind")
    store: UsablePath = Field(default=Path(".mlcatalog"), description="directory of the embedded store")
    # Defaults and why: catalog.receive_timeout.BodyTimeouts.
    body_timeout_s: Seconds = Field(default=30.0, gt=0, le=3600,
                                    description="most seconds between two parts of a request body (then 408)")
    body_total_timeout_s: Seconds = Field(default=120.0, gt=0, le=3600,
                                          description="most seconds a whole request body may take (then 408)")


class AtlasSettings(_Section):
    password: SecretStr | None = Field(default=None, description="password of the Atlas API user")
    url: str | None = Field(default=None, description="Atlas the catalog talks to: http(s)://host:port, or "
                                                      "atlas+embedded:[///store-dir]; default: mlcatalog up uses "
                                                      "its embedded store, other commands the platform's Atlas API")
    user: str = Field(default="admin", min_length=1, description="Atlas user for the catalog's calls")
    ca_bundle: UsablePath | None = Field(default=None,
                                         description="PEM file of the CA certificates an https Atlas (or the gateway "
                                                     "in front of it) is checked against, instead of the default CAs")
    verify_tls: bool = Field(default=True, description="check an https Atlas's certificate; false only for a test "
                                                       "Atlas (said loudly at start-up): use ca_bundle instead")
    namespace: str = Field(default="primary", pattern=r"^[A-Za-z0-9_.-]+$",
                           description="Atlas metadata namespace for entities mlcatalog names itself (S3)")
    ui_url: str | None = Field(default=None, pattern=r"^https?://\S+$",
                               description="Atlas web UI that lineage nodes link to; default: the configured Atlas "
                                           "url when it is http(s), else the UI served at /atlas (ui_dir), else none")
    ui_dir: UsablePath | None = Field(default=None,
                                      description="directory of an Atlas web UI build (Atlas's dashboardv2) that "
                                                  "mlcatalog up serves at /atlas/ over its Atlas API; unset: none")
    # Limits of the Atlas API mlcatalog up serves (catalog.embedded.limits); the defaults are those of the store.
    max_body_mb: Count = Field(default=16, ge=1, le=1024,
                               description="largest request body of the served Atlas API, in MiB (more is 413)")
    search_max_limit: Count = Field(default=10_000, ge=1, le=100_000,
                                    description="largest search page of the served Atlas API "
                                                "(atlas.search.maxlimit)")
    search_default_limit: Count = Field(default=100, ge=1, le=100_000,
                                        description="search page when none or one over the largest is asked for "
                                                    "(atlas.search.defaultlimit)")

    @field_validator("password", "url", "ui_url", "ui_dir", "ca_bundle", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)

    @model_validator(mode="after")
    def _one_way_to_check_certificates(self) -> AtlasSettings:
        if self.ca_bundle is not None and not self.verify_tls:  # which one was meant cannot be guessed
            raise ValueError("ca_bundle is set and verify_tls is false: a CA bundle is for checking certificates")
        return self

    @model_validator(mode="after")
    def _default_page_fits(self) -> AtlasSettings:
        if self.search_default_limit > self.search_max_limit:  # a page over the largest one, whenever none is asked
            raise ValueError(f"search_default_limit ({self.search_default_limit}) is over search_max_limit "
                             f"({self.search_max_limit})")
        return self


class HiveSettings(_Section):
    host: str | None = Field(default=None, description="HiveServer2 host; unset = tables are recorded as declared")
    port: Count = Field(default=10000, ge=1, le=65535)
    username: str = "mlcatalog"
    auth: Literal["NONE", "NOSASL", "LDAP", "CUSTOM"] = Field(default="NONE", description="PyHive auth mode")
    password: SecretStr | None = None

    @field_validator('password', mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class S3Settings(_Section):
    endpoint_url: str | None = Field(default=None, description="S3 endpoint; unset = S3 sources are declared")
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    region: str = "us-east-1"

    @field_validator('secret_access_key', mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class CrnSettings(_Section):
    region: str = Field(default="local", pattern=r"^[a-z0-9-]*$")
    account: str = Field(default="mlcatalog", pattern=r"^[^:\s]*$")
    workspace: str = Field(default="default", pattern=r"^[^:/\s]+$")


class ApiSettings(_Section):
    token: SecretStr | None = Field(default=None, description="Bearer token required for catalog API writes")
    read_auth: bool = Field(default=False, description="require the token for reads too")
    admin_key: SecretStr | None = Field(default=None, min_length=16,
                                        description="administrative credential of the platform (API keys, outbox); "
                                                    "unset: mlcatalog up creates one and prints it once")
    max_body_mb: Count = Field(default=5, ge=1, le=1024,
                               description="largest request body of the /api/v1 routes, in MB (more is 413)")

    @field_validator('token', 'admin_key', mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class ServingSettings(_Section):
    busy_timeout_s: Seconds = Field(default=30.0, gt=0, description="wait this long for a free replica, then 429")
    request_timeout_s: Seconds = Field(default=60.0, gt=0, description="a replica's answer must come within this")
    start_timeout_s: Seconds = Field(default=120.0, ge=1, le=86_400,
                                     description="a replica must have imported its model file and answer within "
                                                 "this (models that load for long at import need more)")
    build_env_keep_days: Seconds = Field(default=7.0, gt=0, le=3650,
                                         description="a build environment no deployment uses is removed after this "
                                                     "many days unused")
    metrics_url: str | None = Field(default=None, description="metrics store; default sqlite in the store dir")
    state_url: str | None = Field(default=None,
                                  description="the platform's own state (keys, deployments, outbox, monitors): "
                                              "postgresql://... shared by several instances, which then behave as "
                                              "one platform; default sqlite in the store dir")
    public_url: str | None = Field(default=None, description="URL clients use to reach the platform")
    replica_poll_us: Count = Field(default=1000, ge=0, le=100_000,
                                   description="most a replica polls for its next request before sleeping "
                                               "(adaptive; 0 = never poll)")
    catalog_url: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                    description="catalog API the platform records builds and deployments in; "
                                                "unset: the catalog of this process")
    projects_root: UsablePath | None = Field(default=None,
                                             description="the only directory deployable projects may live under "
                                                         "(a deploy names one relative to it); unset: the "
                                                         "directory mlcatalog up starts in")


class MonitoringSettings(_Section):
    enabled: bool = Field(default=True, description="run monitors on their schedule inside mlcatalog up")
    worker: Literal["process", "inline"] = Field(
        default="process", description="compute windows in a worker process (default: never on the gateway's "
                                       "event loop or GIL) or inline on the scheduler's thread")
    webhook_secret: SecretStr | None = Field(default=None, min_length=16,
                                             description="HMAC-SHA256 key signing drift alerts")

    @field_validator('webhook_secret', mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)


def _default_spool(environ: Mapping[str, str]) -> Path:
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(state) / "mlcatalog" / "openlineage-spool.jsonl"


class OpenLineageSettings(_Section):
    """OpenLineage run events of builds and deployments (mlcatalog.openlineage). Where they go is the OpenLineage
    client's own configuration: ``config``, else what the client finds itself (``$OPENLINEAGE_CONFIG``,
    ``./openlineage.yml``, ``~/.openlineage/openlineage.yml``, ``OPENLINEAGE__*`` and ``OPENLINEAGE_URL``)."""

    enabled: bool = Field(default=False, description="emit OpenLineage events (needs the openlineage extra); "
                                                     "set by giving a config file too")
    config: UsablePath | None = Field(default=None, description="the OpenLineage client's openlineage.yml (its "
                                                                "transport: console, file, http, kafka, ...)")
    namespace: str = Field(default="mlcatalog", min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f]+$",
                           description="OpenLineage namespace of the build and deployment jobs and datasets")
    hive_namespace: str | None = Field(default=None, pattern=r"^[a-z0-9+.-]+://[^\s]+$",
                                       description="OpenLineage namespace of Hive tables (hive://metastore:port); "
                                                   "unset: hive://<cluster> from the table's qualifiedName")
    # the default comes from the environment load_settings was given (validation context), as every setting does
    spool: UsablePath = Field(default_factory=lambda: _default_spool(os.environ),
                              description="where `mlcatalog build` keeps events it could not deliver (JSON lines), "
                                          "sent again by its next run")

    @field_validator("config", "hive_namespace", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)

    @model_validator(mode="before")
    @classmethod
    def _spool_from_the_given_environment(cls, data: Any, info: ValidationInfo) -> Any:
        environ = (info.context or {}).get("environ")
        if isinstance(data, dict) and data.get("spool") in (None, "") and environ is not None:
            return {**data, "spool": _default_spool(environ)}
        return data

    @property
    def on(self) -> bool:
        return self.enabled or self.config is not None


class ClientSettings(_Section):
    """How commands and the SDK reach a running platform."""

    url: str = Field(default=DEFAULT_URL, pattern=r"^https?://\S+$", description="the platform (mlcatalog up)")
    api_key: SecretStr | None = Field(default=None, description="API key sent as Authorization: Bearer")

    @field_validator('api_key', mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return _blank_is_unset(value)


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    atlas: AtlasSettings = Field(default_factory=AtlasSettings)
    hive: HiveSettings = Field(default_factory=HiveSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    crn: CrnSettings = Field(default_factory=CrnSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    openlineage: OpenLineageSettings = Field(default_factory=OpenLineageSettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    _explicit: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="before")
    @classmethod
    def _openlineage_always_validated(cls, data: Any) -> Any:
        # a section left out is made by its default factory, without the validation context its spool needs
        return {**data, "openlineage": data.get("openlineage") or {}} if isinstance(data, dict) else data

    def is_set(self, dotted: str) -> bool:
        """Whether a setting came from a flag, the environment or the config file (not a default)."""
        return dotted in self._explicit

    def atlas_server_password(self) -> str:
        """The password the embedded Atlas API is served with.

        The configured password; else :data:`DEFAULT_LOOPBACK_PASSWORD` if the server binds a loopback
        address; else :class:`ConfigError` (nobody else may reach a server with a well-known password).
        """
        if self.atlas.password is not None:
            return self.atlas.password.get_secret_value()
        if is_loopback_host(self.server.host):
            return DEFAULT_LOOPBACK_PASSWORD
        raise ConfigError(
            f"refusing to serve on non-loopback host {self.server.host!r} without a password: "
            "set MLCATALOG_ATLAS_PASSWORD (or [atlas] password in the config file)"
        )

    @property
    def uses_default_password(self) -> bool:
        return self.atlas.password is None

    def atlas_url_served(self) -> str:
        """The Atlas ``mlcatalog up`` records into: the configured one, else its own embedded store."""
        return self.atlas.url or EMBEDDED_ATLAS_URL

    def atlas_url_client(self) -> str:
        """The Atlas other commands talk to: the configured one, else the Atlas API of the platform. An embedded
        store is opened only if it exists (``?mode=rw``): only ``mlcatalog up`` creates a store."""
        from catalog.atlas.connect import existing_store_url

        return existing_store_url(self.atlas.url or self.client.url)

    def atlas_ui_url(self) -> str | None:
        """The Atlas web UI the catalog links entities to: the configured one, else the configured Atlas when it
        is one over HTTP (without user info); for the embedded store the UI ``mlcatalog up`` serves at ``/atlas``
        (a path on this server) when it serves one (ui_dir), else None."""
        if self.atlas.ui_url is not None:
            return self.atlas.ui_url
        url = self.atlas.url
        if url is None and self.atlas.ui_dir is not None:
            return ATLAS_UI_PREFIX
        try:
            parts = urlsplit(url) if url is not None else None
        except ValueError:  # no URL at all: the Atlas client refuses it, with the reason
            return None
        if parts is None or parts.scheme.lower() not in ("http", "https"):
            return None
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    def atlas_tls_verify(self) -> bool | Path:
        """How the catalog checks an https Atlas's certificate: against the CA bundle when one is set, else against
        the default CAs, or (verify_tls false) not at all."""
        return self.atlas.ca_bundle if self.atlas.ca_bundle is not None else self.atlas.verify_tls

    def atlas_client_password(self, url: str) -> str | None:
        """The password to call the Atlas at ``url`` with: the configured one, else ``admin`` for a loopback
        Atlas; None for an embedded store (called in-process, no password)."""
        if url.startswith(EMBEDDED_ATLAS_URL):
            return None
        if self.atlas.password is not None:
            return self.atlas.password.get_secret_value()
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:  # not a URL at all: no host that could be loopback (the client says what is wrong)
            host = ""
        if is_loopback_host(host):
            return DEFAULT_LOOPBACK_PASSWORD
        raise ConfigError(f"no Atlas password configured for {redact(url)}: set MLCATALOG_ATLAS_PASSWORD "
                          "(or [atlas] password in the config file)")

    def client_key(self, *, admin: bool = False) -> str | None:
        """The credential a command sends: for administrative calls the admin key first, else the API key."""
        keys = [self.api.admin_key, self.client.api_key] if admin else [self.client.api_key, self.api.admin_key]
        if not admin:
            keys.append(self.api.token)
        return next((k.get_secret_value() for k in keys if k is not None), None)


def redact(url: str) -> str:
    """``url`` without its password, printable and short (safe to print), even when it is no URL at all."""
    from catalog.atlas.client import shown_url

    return shown_url(url)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for section in sections:
        tree = tree.setdefault(section, {})
    tree[key] = value


def _flatten(tree: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``section.key`` -> value. A table deeper down stays one value, which the settings refuse by its name
    (``server.deep``): settings are two levels deep, and a file's nesting can be thousands."""
    return {f"{section}.{key}": value for section, table in tree.items() for key, value in table.items()}


def _config_file(environ: Mapping[str, str], cwd: Path) -> Path | None:
    explicit = environ.get(CONFIG_ENV, "")
    if explicit:
        path = cwd / Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} (from {CONFIG_ENV}) does not exist")
        return path
    default = cwd / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # tomllib decodes the whole file first (a ValueError, not a TOMLDecodeError)
        raise ConfigError(f"config file {path}: not UTF-8 text (byte {exc.start}), as TOML must be") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively, without a limit
        raise ConfigError(f"config file {path}: invalid TOML: arrays or tables nested too deep") from None
    except ValueError as exc:  # an integer of more than 4300 digits (int's own limit)
        raise ConfigError(f"config file {path}: invalid TOML: {str(exc).partition(':')[0]}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc.strerror or exc}") from exc
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(f"config file {path}: {key!r} must be a table like [{key}]")
    flat = _flatten(data)
    for dotted in _PATH_SETTINGS:
        value = flat.get(dotted)
        if isinstance(value, str) and "\x00" not in value:  # one with a NUL is refused by its setting, as it is
            flat[dotted] = str(path.parent / Path(value).expanduser())
    return flat


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve the settings: ``flags`` > ``environ`` > config file > defaults.

    ``flags`` maps dotted setting names (``"server.port"``) to command-line values; ``None`` means
    "flag not given". ``environ`` defaults to :data:`os.environ`, ``cwd`` to the working directory.
    Relative store paths are made absolute (against the config file's directory for the file, else
    against ``cwd``). Raises :class:`ConfigError` with a one-line message naming the offending source.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def layer(items: Mapping[str, Any], source: Callable[[str], str]) -> None:
        for dotted, value in items.items():
            if value is not None:
                values[dotted] = value
                sources[dotted] = source(dotted)

    config_path = _config_file(environ, cwd)
    if config_path is not None:
        layer(_read_config_file(config_path), lambda _: f"config file {config_path}")
    layer({dotted: environ.get(name) or None for name, dotted in ENV_VARS.items()},
          lambda dotted: "environment variable " + next(n for n, d in ENV_VARS.items() if d == dotted))
    layer(dict(flags or {}), lambda _: "command line")

    tree: dict[str, Any] = {}
    for dotted, value in values.items():
        _set(tree, dotted, value)
    try:
        settings = Settings.model_validate(tree, context={"environ": environ})
    except ValidationError as exc:
        err = exc.errors()[0]
        dotted = ".".join(str(part) for part in err["loc"])
        source = next((src for key, src in sources.items() if key == dotted or key.startswith(dotted + ".")),
                      "defaults")
        raise ConfigError(f"invalid setting {dotted} (from {source}): {err['msg']}") from None

    store = settings.server.store
    if not store.is_absolute():
        server = settings.server.model_copy(update={"store": cwd / store})
        settings = settings.model_copy(update={"server": server})
    at = settings.atlas
    relative = {k: cwd / v for k, v in (("ui_dir", at.ui_dir), ("ca_bundle", at.ca_bundle)) if v is not None
                and not v.is_absolute()}
    if relative:
        settings = settings.model_copy(update={"atlas": at.model_copy(update=relative)})
    ol = settings.openlineage
    relative = {k: cwd / v for k, v in (("config", ol.config), ("spool", ol.spool)) if v is not None
                and not v.is_absolute()}
    if relative:
        settings = settings.model_copy(update={"openlineage": ol.model_copy(update=relative)})
    settings._explicit = frozenset(values)
    return settings
