"""Serving commands: deploy, deployments, stop, logs, api-keys, outbox, metrics-db.

Every command that acts on a running platform goes through its HTTP API at ``MLCATALOG_URL`` (``--url``), with
``MLCATALOG_API_KEY`` (administrative commands: ``MLCATALOG_ADMIN_KEY`` first). Only ``mlcatalog up`` opens the
platform's store; ``api-keys`` and ``outbox`` also work offline, on a store named explicitly with ``--store``.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mlcatalog.settings import DEFAULT_URL, ConfigError, Settings, load_settings

#: Longest text of a server's answer (or of an argument) a message shows.
SHOW_CHARS = 300

Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Url = Annotated[str | None, typer.Option(
    "--url", metavar="URL", show_default=False,
    help="the platform (mlcatalog up). Default: $MLCATALOG_URL, else client.url from the config file, else "
         + DEFAULT_URL)]
StoreOpt = Annotated[Path | None, typer.Option(
    "--store", metavar="DIR", show_default=False,
    help="work offline on this platform store directory instead of asking the running platform")]


class Shape(BaseModel):
    """What a command reads of the platform's answer: a field it indexes is required, one it ``.get``s has a
    default (a default fills nothing in: the command goes on with the answer as it came); others pass unread."""

    model_config = ConfigDict(strict=True)


class _Deployed(Shape):
    crn: str
    modelCrn: str
    buildCrn: str
    accessKey: str | None
    accessKeyHint: str = ""
    role: str = "live"
    trafficPercent: int = 100
    endpoint: str
    guid: str | None = None


class _Replica(Shape):
    alive: bool | None = None
    restarts: int | None = None


class _Deployment(Shape):
    crn: str
    name: str
    status: str
    replicas: int
    replica_status: list[_Replica] = Field(default_factory=list)
    drift_status: str | None = None
    drift_columns: list[str] | None = None
    catalog_guid: str | None = None


class _WhoAmI(Shape):
    who: str
    role: str
    projects: list[str]
    deployments: list[str]


class _Stopped(Shape):
    name: str
    status: str


class _ReplicaLog(Shape):
    replica: int
    path: str
    lines: list[str]


class _OutboxEntry(Shape):
    seq: int
    kind: str
    payload: dict[str, Any]
    created_ms: int | None
    status: str
    attempts: int
    last_error: str | None


class _Retried(Shape):
    retried: list[int]


class _KeyCreated(Shape):
    key: str
    key_id: str


class _Key(Shape):
    key_id: str
    name: str
    role: str
    projects: list[str]
    deployments: list[str]
    active: bool
    created_ms: int | None
    expires_ms: int | None
    revoked_ms: int | None


DEPLOYED: TypeAdapter[Any] = TypeAdapter(_Deployed)
DEPLOYMENTS: TypeAdapter[Any] = TypeAdapter(list[_Deployment])
WHOAMI: TypeAdapter[Any] = TypeAdapter(_WhoAmI)
STOPPED: TypeAdapter[Any] = TypeAdapter(_Stopped)
LOGS: TypeAdapter[Any] = TypeAdapter(list[_ReplicaLog])
OUTBOX: TypeAdapter[Any] = TypeAdapter(list[_OutboxEntry])
RETRIED: TypeAdapter[Any] = TypeAdapter(_Retried)
KEY_CREATED: TypeAdapter[Any] = TypeAdapter(_KeyCreated)
KEYS: TypeAdapter[Any] = TypeAdapter(list[_Key])
AN_OBJECT: TypeAdapter[Any] = TypeAdapter(dict[str, Any])


def _fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"mlcatalog: error: {line}", err=True)
    return typer.Exit(code)


def _plain(text: object, limit: int = SHOW_CHARS) -> str:
    """``text`` for a one-line message: control characters escaped (a server's answer or a user's argument may hold
    terminal escape sequences that would rewrite the screen), cut to ``limit`` characters."""
    raw = str(text)
    shown = "".join(c if c == " " or c.isprintable() else ascii(c)[1:-1] for c in raw[:limit])
    return f"{shown}... ({len(raw)} characters)" if len(raw) > limit else shown


def _settings(url: str | None) -> Settings:
    try:
        return load_settings({"client.url": url})
    except ConfigError as e:
        raise _fail(str(e), 2) from None


def _unreachable(base: str, why: str) -> typer.Exit:
    return _fail(f"the platform at {_plain(base)} is not reachable ({why}); "
                 "is `mlcatalog up` running? (set MLCATALOG_URL to reach another one)")


def _unexpected(base: str, why: str) -> typer.Exit:
    return _fail(f"the platform at {_plain(base)} answered something that is not what mlcatalog expects ({why})")


def _error_message(resp: Any, admin: bool) -> str:
    try:
        data = resp.json()
    except ValueError:
        data = resp.text.strip()
    message = (data.get("message") or data.get("detail")) if isinstance(data, dict) else data
    shown = _plain(message if isinstance(message, str) else json.dumps(message)) if message else ""
    shown = shown or f"HTTP {resp.status_code}"
    if resp.status_code in (401, 403):
        hint = ("set MLCATALOG_ADMIN_KEY to the administrative key" if admin else
                "set MLCATALOG_API_KEY; an administrator creates one with `mlcatalog api-keys create NAME`")
        shown = f"{shown} ({hint})"
    return shown


def _answer(resp: Any, base: str, shape: TypeAdapter[Any]) -> Any:
    """The JSON of a 2xx answer, checked against ``shape`` (what the command reads of it): a proxy, a redirect or
    another service at that address must be a message, not a KeyError in the middle of the output."""
    if not 200 <= resp.status_code < 300:
        where = resp.headers.get("location")
        raise _unexpected(base, f"HTTP {resp.status_code}" + (f", a redirect to {_plain(where, 80)}" if where else ""))
    try:
        data = resp.json()
    except ValueError:
        raise _unexpected(base, f"HTTP {resp.status_code}, not JSON: {_plain(resp.text, 80)}") from None
    try:
        # strict: what passes is what the command reads, unconverted (it goes on with the answer as it came)
        shape.validate_python(data, strict=True)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise _unexpected(base, f"HTTP {resp.status_code}, {_plain(where, 80)}: {_plain(first['msg'], 120)}") \
            from None
    return data


def _request(method: str, url: str | None, path: str, body: Any = None, *, shape: TypeAdapter[Any],
             admin: bool = False, params: dict[str, Any] | None = None, timeout: float = 300.0) -> Any:
    """``method`` ``path`` on the platform; its JSON answer, of the shape ``shape``, or a one-line error."""
    import httpx

    s = _settings(url)
    base = s.client.url.rstrip("/")
    key = s.client_key(admin=admin)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        # the settings check the URL's form; httpx refuses more (a bad IPv6 or IPv4 address, a NUL in the host)
        target = httpx.URL(base + path)
        resp = httpx.request(method, target, json=body, params=params, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        raise _unreachable(base, type(e).__name__) from None
    except (httpx.InvalidURL, UnicodeError) as e:  # UnicodeError: the idna codec, a host label over 63 characters
        raise _unreachable(base, f"not a usable URL: {_plain(e, 120)}") from None
    if resp.status_code >= 400:
        raise _fail(_error_message(resp, admin))
    return _answer(resp, base, shape)


def _segment(value: str, safe: str = "") -> str:
    """``value`` percent-encoded for a URL path: a ``?`` or ``#`` in an argument stays part of it instead of ending
    the path, and a control character is sent (and refused by the platform) instead of refused by httpx."""
    return quote(value, safe=safe)


def _env_pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--env {item.partition('=')[0]!r}: expected KEY=VALUE", 2)  # never echo a value
        pairs[key] = value
    return pairs


def _ts(ms: int | None) -> str:
    if not ms:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # past year 9999 (a store written before expiry was bounded)
        return f"{ms} ms"


def _expires_ms(days: float | None) -> int | None:
    """Epoch ms ``days`` from now (None: never). How far is too far is the platform's to say (ApiKeys.create);
    here only what is no number of milliseconds at all (infinity) is refused."""
    if not days:
        return None
    ms = (time.time() + days * 86400) * 1000
    if not math.isfinite(ms):
        raise _fail(f"--expires-days {days}: not a number of days a key can live", 2)
    return int(ms)


def _offline_state(store: Path) -> Any:
    """The state of the platform whose store directory is ``store``, or $MLCATALOG_STATE_URL (settings) when the
    platform keeps it in PostgreSQL."""
    from serving.platform.state import StateDb, open_state

    try:
        url = load_settings({}).serving.state_url
    except ConfigError as e:
        raise _fail(str(e), 2) from None
    if url:
        try:
            return open_state(url)
        except Exception as e:  # noqa: BLE001 - one line, whatever the database said
            raise _fail(f"platform state: {e}", 1) from None
    directory = store.expanduser().resolve()
    if not (directory / "platform.db").is_file():
        raise _fail(f"{directory} is not a platform store (no platform.db); give the directory `mlcatalog up "
                    "--store` uses", 2)
    return StateDb(directory / "platform.db")


def register(app: typer.Typer) -> None:  # noqa: C901 - one function lists the commands
    @app.command("deploy")
    def deploy(project_dir: Annotated[Path, typer.Option("--project-dir", metavar="DIR")],
               model: Annotated[str, typer.Option("--model", metavar="NAME", help="model name in lineage.yml")],
               file: Annotated[str, typer.Option("--file", metavar="PATH",
                                                 help="model file in the project, as committed at HEAD")],
               function: Annotated[str, typer.Option("--function", metavar="NAME", help="predict function")],
               replicas: Annotated[int, typer.Option("--replicas", min=1, max=16)] = 1,
               cpu_millicores: Annotated[int, typer.Option("--cpu-millicores", min=1)] = 1000,
               memory_mb: Annotated[int, typer.Option("--memory-mb", min=1)] = 2048,
               no_auth: Annotated[bool, typer.Option("--no-auth", help="serve without API-key checks")] = False,
               env: Annotated[list[str] | None, typer.Option(
                   "--env", metavar="KEY=VALUE",
                   help="an environment variable of the replicas (repeatable); they get no other but PATH, HOME, "
                        "the locale and what the SDK needs")] = None,
               canary: Annotated[int | None, typer.Option(
                   "--canary", metavar="PCT", min=1, max=99,
                   help="the model is live: send PCT% of its calls to the new build, the rest to the live one "
                        "(default: all, once the new build is ready)")] = None,
               shadow: Annotated[bool, typer.Option(
                   "--shadow", help="the model is live: the new build answers a copy of every call, its answers "
                                    "recorded, never returned")] = False,
               sticky_field: Annotated[str | None, typer.Option(
                   "--sticky-field", metavar="FIELD",
                   help="calls with the same value of this request field go to the same build")] = None,
               url: Url = None, as_json: Json = False) -> None:
        """Build (lineage.yml at HEAD) and deploy a model; returns once its replicas answer.

        DIR is the project's directory: a path here that the platform shares, or one relative to the platform's
        projects root (serving.projects_root). The first deploy of a model prints its access key; a new build of a
        live model keeps the key and takes the model's calls once it is ready and warm (all of them, --canary PCT
        of them, or a copy with --shadow), and the build it replaces is retired."""
        if canary is not None and shadow:
            raise _fail("--canary and --shadow: a new build is one or the other", 2)
        local = project_dir.expanduser()
        body = {"project_dir": str(local.resolve()) if local.exists() else str(project_dir), "model": model,
                "file": file, "function": function, "replicas": replicas, "cpu_millicores": cpu_millicores,
                "memory_mb": memory_mb, "auth_enabled": not no_auth, "env": _env_pairs(env or []),
                "canary": canary, "shadow": shadow, "sticky_field": sticky_field}
        from mlcatalog.cli_builds import deploy_with_progress

        res = deploy_with_progress(url, body)
        if as_json:
            typer.echo(json.dumps({k: res.get(k) for k in ("crn", "modelCrn", "buildCrn", "accessKey",
                                                             "accessKeyHint", "role", "trafficPercent", "endpoint",
                                                             "guid")}))
            return
        typer.echo(f"deployed {model} ({replicas} replica{'s' if replicas > 1 else ''}): {res.get('role')}, "
                   f"{res.get('trafficPercent')}% of its calls")
        typer.echo(f"  deployment CRN: {res['crn']}")
        typer.echo(f"  model CRN:      {res['modelCrn']}")
        typer.echo(f"  build CRN:      {res['buildCrn']}")
        typer.echo(f"  access key:     {res['accessKey'] or 'unchanged (' + res.get('accessKeyHint', '') + '...)'}")
        typer.echo(f"  endpoint:       {res['endpoint']}")
        typer.echo(f"  catalog guid:   {res.get('guid') or '(not recorded yet: see mlcatalog outbox)'}")

    @app.command("deployments")
    def deployments(url: Url = None, as_json: Json = False) -> None:
        """List deployments with their status, live replicas and replica restarts."""
        rows = _request("GET", url, "/api/v1/serving/deployments", shape=DEPLOYMENTS)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no deployments")
        for d in rows:
            replicas = d.get("replica_status") or []
            alive = sum(1 for r in replicas if r.get("alive"))
            restarts = sum(int(r.get("restarts") or 0) for r in replicas)
            drift = d.get("drift_status") or "-"
            if d.get("drift_columns"):
                drift += f" ({', '.join(d['drift_columns'])})"
            typer.echo(f"{d['status']:<10} {d['name']:<24} {alive}/{d['replicas']} replicas  "
                       f"{restarts} restart{'' if restarts == 1 else 's'}  drift {drift}  {d['crn']}  "
                       f"guid {d.get('catalog_guid') or '-'}")

    @app.command("whoami")
    def whoami(url: Url = None) -> None:
        """The role and scope of the API key in use (MLCATALOG_API_KEY)."""
        me = _request("GET", url, "/api/v1/serving/whoami", shape=WHOAMI)
        scope = ", ".join([*me["projects"], *me["deployments"]]) or "everything"
        typer.echo(f"{me['who']}: {me['role']} ({scope})")

    @app.command("stop")
    def stop(crn: Annotated[str, typer.Argument(metavar="CRN")], url: Url = None) -> None:
        """Stop a deployment's replicas and record its status."""
        d = _request("POST", url, f"/api/v1/serving/stop/{_segment(crn, '/:')}", shape=STOPPED)
        typer.echo(f"{d['name']}: {d['status']}")

    @app.command("logs")
    def logs(crn: Annotated[str, typer.Argument(metavar="CRN", help="deployment CRN")],
             lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="last lines per replica")] = 200,
             url: Url = None) -> None:
        """Print the end of each replica's log (model output and tracebacks of failed predictions)."""
        replicas = _request("GET", url, f"/api/v1/serving/deployments/{_segment(crn, '/:')}/logs",
                            params={"lines": lines}, shape=LOGS)
        if not replicas:
            typer.echo("no replica logs")
        for r in replicas:
            typer.echo(f"==> replica {r['replica']} ({r['path']}) <==")
            for line in r["lines"]:
                typer.echo(line)

    outbox_app = typer.Typer(help="Catalog writes not yet delivered to Atlas (replayed in order when it answers); "
                                  "parked ones are retried with `mlcatalog outbox retry`. Administrative.",
                             invoke_without_command=True)
    app.add_typer(outbox_app, name="outbox")

    @outbox_app.callback()
    def show_outbox(ctx: typer.Context,
                    all_entries: Annotated[bool, typer.Option("--all", help="include delivered entries")] = False,
                    store: StoreOpt = None, url: Url = None, as_json: Json = False) -> None:
        """Catalog writes not yet delivered to Atlas: pending (retried with backoff) and parked (refused by the
        catalog; retried only when told)."""
        if ctx.invoked_subcommand is not None:
            return
        if store is not None:
            from serving.platform.outbox import entries

            rows = [r.__dict__ for r in entries(_offline_state(store), include_done=all_entries)]
        else:
            rows = _request("GET", url, "/api/v1/serving/outbox", params={"all": all_entries}, admin=True,
                            shape=OUTBOX)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        waiting = [r for r in rows if r["status"] != "done"]
        if not waiting:
            typer.echo("outbox empty: every catalog write was delivered")
        for r in rows:
            what = str(r["payload"].get("status") or r["payload"].get("model") or "")
            err = f"  last error: {r['last_error']}" if r["last_error"] else ""
            typer.echo(f"#{r['seq']} {r['status']:<8} {r['kind']:<10} {what:<10} {_ts(r['created_ms'])} "
                       f"attempts={r['attempts']}{err}")
        parked = [r["seq"] for r in rows if r["status"] == "failed"]
        if parked:
            typer.echo(f"{len(parked)} parked (the catalog refused them): once the cause is fixed, "
                       f"mlcatalog outbox retry {parked[0] if len(parked) == 1 else '--all'}")

    @outbox_app.command("retry")
    def retry_outbox(seq: Annotated[int | None, typer.Argument(metavar="[SEQ]", help="a parked entry")] = None,
                     all_parked: Annotated[bool, typer.Option("--all", help="every parked entry")] = False,
                     store: StoreOpt = None, url: Url = None) -> None:
        """Put parked entries back in line: the platform sends them again, in order."""
        if (seq is None) == (not all_parked):
            raise _fail("give one entry's SEQ or --all", 2)
        if store is not None:
            from serving.platform.outbox import retry

            again = retry(_offline_state(store), seq)
        else:
            again = _request("POST", url, "/api/v1/serving/outbox/retry", body={"seq": seq}, admin=True,
                             shape=RETRIED)["retried"]
        if not again:
            raise _fail(f"entry #{seq} is not parked" if seq is not None else "no entry is parked", 1)
        typer.echo(f"retrying {', '.join(f'#{n}' for n in again)}")

    keys_app = typer.Typer(help="API keys of the platform (stored hashed; shown once). Administrative.",
                           no_args_is_help=True)
    app.add_typer(keys_app, name="api-keys")

    @keys_app.command("create")
    def keys_create(name: Annotated[str, typer.Argument(metavar="NAME")],
                    role: Annotated[str | None, typer.Option(
                        "--role", metavar="ROLE",
                        help="admin (keys, everything), deployer (deploy, stop, read in its projects), viewer "
                             "(read its projects), caller (call the models of its deployments or projects)")] = None,
                    project: Annotated[list[str] | None, typer.Option(
                        "--project", metavar="P", help="a project (name or CRN) the key acts in; repeatable; "
                                                       "'*': every project")] = None,
                    deployment: Annotated[list[str] | None, typer.Option(
                        "--deployment", metavar="CRN", help="caller keys: a deployment whose model it may call; "
                                                            "repeatable")] = None,
                    expires_days: Annotated[float | None, typer.Option("--expires-days", min=0)] = None,
                    admin: Annotated[bool, typer.Option("--admin", help="the same as --role admin")] = False,
                    store: StoreOpt = None, url: Url = None) -> None:
        """Create an API key and print it once."""
        from catalog import ROLES

        expires = _expires_ms(expires_days)
        role = role or ("admin" if admin else None)
        if role not in ROLES:
            raise _fail(f"give the key's role: --role {'|'.join(ROLES)}" if role is None else
                        f"--role {role}: not a role ({', '.join(ROLES)})", 2)
        if store is not None:
            from serving.platform.apikeys import ApiKeys

            try:
                info, key = ApiKeys(_offline_state(store)).create(name, expires, role=role,
                                                                  projects=project or [],
                                                                  deployments=deployment or [])
            except ValueError as e:
                raise _fail(str(e), 2) from None
            key_id = info.key_id
        else:
            res = _request("POST", url, "/api/v1/serving/api-keys",
                           {"name": name, "expires_ms": expires, "role": role, "projects": project or [],
                            "deployments": deployment or []}, admin=True, shape=KEY_CREATED)
            key, key_id = res["key"], res["key_id"]
        typer.echo(key)
        typer.echo(f"(key id {key_id}; it is not shown again)", err=True)

    @keys_app.command("list")
    def keys_list(store: StoreOpt = None, url: Url = None) -> None:
        """List API keys (ids and names, never secrets)."""
        if store is not None:
            from serving.platform.apikeys import ApiKeys

            rows = [{**k.__dict__, "active": k.active} for k in ApiKeys(_offline_state(store)).list()]
        else:
            rows = _request("GET", url, "/api/v1/serving/api-keys", admin=True, shape=KEYS)
        for k in rows:
            state = "active" if k["active"] else ("revoked" if k["revoked_ms"] else "expired")
            scope = ", ".join([*k["projects"], *k["deployments"]]) or "everything"
            typer.echo(f"{k['key_id']}  {state:<8} {k['role']:<8} created {_ts(k['created_ms'])}  "
                       f"expires {_ts(k['expires_ms'])}  {k['name']}  ({scope})")

    @keys_app.command("revoke")
    def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], store: StoreOpt = None,
                    url: Url = None) -> None:
        """Revoke an API key (takes effect within seconds)."""
        if store is not None:
            from serving.platform.apikeys import ApiKeys

            if not ApiKeys(_offline_state(store)).revoke(key_id):
                raise _fail(f"no active API key with id {_plain(key_id, 80)}")
        else:
            _request("DELETE", url, f"/api/v1/serving/api-keys/{_segment(key_id)}", admin=True, shape=AN_OBJECT)
        typer.echo(f"revoked {_plain(key_id, 80)}")


def register_state_db(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The platform state on PostgreSQL (keys, deployments, outbox, monitors).",
                         no_args_is_help=True)
    app.add_typer(db_app, name="state-db")

    @db_app.command("upgrade")
    def upgrade(url: Annotated[str, typer.Argument(metavar="URL", help="postgresql://... or sqlite:///...")]) -> None:
        """Migrate the platform state at URL to this mlcatalog's schema (stop older instances first)."""
        from serving.metrics import redact_url
        from serving.platform.state import upgrade_state_db

        try:
            upgrade_state_db(url)
        except Exception as e:  # noqa: BLE001 - one line, whatever the database said
            raise _fail(f"cannot upgrade {redact_url(url)}: {e}") from None
        typer.echo(f"platform state {redact_url(url)} is at this mlcatalog's schema")


def register_metrics_db(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The metrics store's database schema.", no_args_is_help=True)
    app.add_typer(db_app, name="metrics-db")

    @db_app.command("upgrade")
    def upgrade(url: Annotated[str, typer.Argument(metavar="URL", help="postgresql://... or sqlite:///...")]) -> None:
        """Create or migrate the metrics store schema to this mlcatalog's version (Alembic for PostgreSQL)."""
        from serving.metrics import redact_url, upgrade_metrics_db

        try:
            upgrade_metrics_db(url)
        except Exception as e:  # noqa: BLE001 - one line for the user, whatever the driver raised
            raise _fail(f"cannot upgrade {redact_url(url)}: {e}") from None
        typer.echo(f"metrics store {redact_url(url)} is at the current schema")
