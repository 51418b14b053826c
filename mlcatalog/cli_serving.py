"""Serving commands: deploy, deployments, stop, logs, api-keys, outbox, metrics-db.

Every command that acts on a running platform goes through its HTTP API at ``MLCATALOG_URL`` (``--url``), with
``MLCATALOG_API_KEY`` (administrative commands: ``MLCATALOG_ADMIN_KEY`` first). Only ``mlcatalog up`` opens the
platform's store; ``api-keys`` and ``outbox`` also work offline, on a store named explicitly with ``--store``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcatalog.settings import DEFAULT_URL, ConfigError, Settings, load_settings

Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Url = Annotated[str | None, typer.Option(
    "--url", metavar="URL", show_default=False,
    help="the platform (mlcatalog up). Default: $MLCATALOG_URL, else client.url from the config file, else "
         + DEFAULT_URL)]
StoreOpt = Annotated[Path | None, typer.Option(
    "--store", metavar="DIR", show_default=False,
    help="work offline on this platform store directory instead of asking the running platform")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"mlcatalog: error: {line}", err=True)
    return typer.Exit(code)


def _settings(url: str | None) -> Settings:
    try:
        return load_settings({"client.url": url})
    except ConfigError as e:
        raise _fail(str(e), 2) from None


def _request(method: str, url: str | None, path: str, body: Any = None, *, admin: bool = False,
             params: dict[str, Any] | None = None, timeout: float = 300.0) -> Any:
    import httpx

    s = _settings(url)
    base = s.client.url.rstrip("/")
    key = s.client_key(admin=admin)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.request(method, base + path, json=body, params=params, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        raise _fail(f"the platform at {base} is not reachable ({type(e).__name__}); "
                    "is `mlcatalog up` running? (set MLCATALOG_URL to reach another one)") from None
    try:
        data = resp.json()
    except ValueError:
        data = {"message": resp.text.strip()[:300]}
    if resp.status_code >= 400:
        message = data.get("message") if isinstance(data, dict) else str(data)
        if resp.status_code in (401, 403):
            hint = ("set MLCATALOG_ADMIN_KEY to the administrative key" if admin else
                    "set MLCATALOG_API_KEY; an administrator creates one with `mlcatalog api-keys create NAME`")
            message = f"{message} ({hint})"
        raise _fail(str(message))
    return data


def _env_pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--env {item.partition('=')[0]!r}: expected KEY=VALUE", 2)  # never echo a value
        pairs[key] = value
    return pairs


def _ts(ms: int | None) -> str:
    return "-" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _offline_state(store: Path) -> Any:
    from serving.platform.state import StateDb

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
               url: Url = None, as_json: Json = False) -> None:
        """Build (lineage.yml at HEAD) and deploy a model; returns once its replicas answer.

        DIR is the project's directory: a path here that the platform shares, or one relative to the platform's
        projects root (serving.projects_root)."""
        local = project_dir.expanduser()
        body = {"project_dir": str(local.resolve()) if local.exists() else str(project_dir), "model": model,
                "file": file, "function": function, "replicas": replicas, "cpu_millicores": cpu_millicores,
                "memory_mb": memory_mb, "auth_enabled": not no_auth, "env": _env_pairs(env or [])}
        res = _request("POST", url, "/api/v1/serving/deployments", body)
        if as_json:
            typer.echo(json.dumps({k: res.get(k) for k in ("crn", "modelCrn", "buildCrn", "accessKey", "endpoint",
                                                             "guid")}))
            return
        typer.echo(f"deployed {model} ({replicas} replica{'s' if replicas > 1 else ''})")
        typer.echo(f"  deployment CRN: {res['crn']}")
        typer.echo(f"  model CRN:      {res['modelCrn']}")
        typer.echo(f"  build CRN:      {res['buildCrn']}")
        typer.echo(f"  access key:     {res['accessKey']}")
        typer.echo(f"  endpoint:       {res['endpoint']}")
        typer.echo(f"  catalog guid:   {res.get('guid') or '(not recorded yet: see mlcatalog outbox)'}")

    @app.command("deployments")
    def deployments(url: Url = None, as_json: Json = False) -> None:
        """List deployments with their status, live replicas and replica restarts."""
        rows = _request("GET", url, "/api/v1/serving/deployments")
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no deployments")
        for d in rows:
            replicas = d.get("replica_status", [])
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
        me = _request("GET", url, "/api/v1/serving/whoami")
        scope = ", ".join([*me["projects"], *me["deployments"]]) or "everything"
        typer.echo(f"{me['who']}: {me['role']} ({scope})")

    @app.command("stop")
    def stop(crn: Annotated[str, typer.Argument(metavar="CRN")], url: Url = None) -> None:
        """Stop a deployment's replicas and record its status."""
        d = _request("POST", url, f"/api/v1/serving/stop/{crn}")
        typer.echo(f"{d['name']}: {d['status']}")

    @app.command("logs")
    def logs(crn: Annotated[str, typer.Argument(metavar="CRN", help="deployment CRN")],
             lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="last lines per replica")] = 200,
             url: Url = None) -> None:
        """Print the end of each replica's log (model output and tracebacks of failed predictions)."""
        replicas = _request("GET", url, f"/api/v1/serving/deployments/{crn}/logs", params={"lines": lines})
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
            rows = _request("GET", url, "/api/v1/serving/outbox", params={"all": all_entries}, admin=True)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        waiting = [r for r in rows if r["status"] != "done"]
        if not waiting:
            typer.echo("outbox empty: every catalog write was delivered")
        for r in rows:
            what = r["payload"].get("status") or r["payload"].get("model") or ""
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
            again = _request("POST", url, "/api/v1/serving/outbox/retry", body={"seq": seq}, admin=True)["retried"]
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

        expires = int((time.time() + expires_days * 86400) * 1000) if expires_days else None
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
                            "deployments": deployment or []}, admin=True)
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
            rows = _request("GET", url, "/api/v1/serving/api-keys", admin=True)
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
                raise _fail(f"no active API key with id {key_id}")
        else:
            _request("DELETE", url, f"/api/v1/serving/api-keys/{key_id}", admin=True)
        typer.echo(f"revoked {key_id}")


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
