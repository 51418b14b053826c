"""Serving commands: deploy, deployments, stop, api-keys, outbox, metrics-db."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from catalog.config import ConfigError, load_settings

DEFAULT_URL = "http://127.0.0.1:21000"
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Url = Annotated[str | None, typer.Option(
    "--url", metavar="URL", show_default=False,
    help="the platform (mlcatalog up). Default: $MLCATALOG_URL, else " + DEFAULT_URL)]
StoreOpt = Annotated[Path | None, typer.Option("--store", metavar="DIR", show_default=False,
                                              help="store directory of the platform. Default: $MLCATALOG_STORE, "
                                                   "else server.store from the config file, else ./.mlcatalog")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"mlcatalog: error: {line}", err=True)
    return typer.Exit(code)


def _credential() -> str | None:
    key = os.environ.get("MLCATALOG_API_KEY")
    if key:
        return key
    try:
        s = load_settings()
    except ConfigError:
        return None
    return s.api.token.get_secret_value() if s.api.token else None


def _request(method: str, url: str | None, path: str, body: Any = None, timeout: float = 300.0) -> Any:
    import httpx

    base = (url or os.environ.get("MLCATALOG_URL") or DEFAULT_URL).rstrip("/")
    key = _credential()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.request(method, base + path, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        raise _fail(f"the platform at {base} is not reachable ({type(e).__name__}); "
                    "is `mlcatalog up` running?") from None
    try:
        data = resp.json()
    except ValueError:
        data = {"message": resp.text.strip()[:300]}
    if resp.status_code >= 400:
        message = data.get("message") if isinstance(data, dict) else str(data)
        if resp.status_code == 401:
            message = f"{message} (set MLCATALOG_API_KEY; create one with `mlcatalog api-keys create NAME`)"
        if isinstance(data, dict) and isinstance(data.get("detail"), list):  # request validation
            message = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in data["detail"])
        raise _fail(str(message))
    return data


def _ts(ms: int | None) -> str:
    return "-" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(store: Path | None) -> Any:
    from serving.platform.state import StateDb

    try:
        s = load_settings({"server.store": store})
    except ConfigError as e:
        raise _fail(str(e), 2) from None
    return StateDb(s.server.store / "platform.db")


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
               url: Url = None, as_json: Json = False) -> None:
        """Build (lineage.yml at HEAD) and deploy a model; returns once its replicas answer."""
        body = {"project_dir": str(project_dir.expanduser().resolve()), "model": model, "file": file,
                "function": function, "replicas": replicas, "cpu_millicores": cpu_millicores,
                "memory_mb": memory_mb, "auth_enabled": not no_auth}
        res = _request("POST", url, "/api/v1/serving/deployments", body)
        if as_json:
            typer.echo(json.dumps({k: res[k] for k in ("crn", "modelCrn", "buildCrn", "accessKey", "endpoint")}))
            return
        typer.echo(f"deployed {model} ({replicas} replica{'s' if replicas > 1 else ''})")
        typer.echo(f"  deployment CRN: {res['crn']}")
        typer.echo(f"  model CRN:      {res['modelCrn']}")
        typer.echo(f"  build CRN:      {res['buildCrn']}")
        typer.echo(f"  access key:     {res['accessKey']}")
        typer.echo(f"  endpoint:       {res['endpoint']}")

    @app.command("deployments")
    def deployments(url: Url = None, as_json: Json = False) -> None:
        """List deployments with their status."""
        rows = _request("GET", url, "/api/v1/serving/deployments")
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no deployments")
        for d in rows:
            alive = sum(1 for r in d.get("replica_status", []) if r.get("alive"))
            typer.echo(f"{d['status']:<10} {d['name']:<24} {alive}/{d['replicas']} replicas  {d['crn']}")

    @app.command("stop")
    def stop(crn: Annotated[str, typer.Argument(metavar="CRN")], url: Url = None) -> None:
        """Stop a deployment's replicas and record its status."""
        d = _request("POST", url, f"/api/v1/serving/stop/{crn}")
        typer.echo(f"{d['name']}: {d['status']}")

    @app.command("outbox")
    def show_outbox(all_entries: Annotated[bool, typer.Option("--all", help="include delivered entries")] = False,
                    store: StoreOpt = None, as_json: Json = False) -> None:
        """Catalog writes not yet delivered to Atlas (replayed in order when it answers)."""
        from serving.platform.outbox import entries

        rows = entries(_state(store), include_done=all_entries)
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
            return
        if not rows:
            typer.echo("outbox empty: every catalog write was delivered")
        for r in rows:
            what = r.payload.get("status") or r.payload.get("model") or ""
            err = f"  last error: {r.last_error}" if r.last_error else ""
            typer.echo(f"#{r.seq} {r.status:<8} {r.kind:<10} {what:<10} {_ts(r.created_ms)} "
                       f"attempts={r.attempts}{err}")

    keys_app = typer.Typer(help="Model API keys (stored hashed; shown once).", no_args_is_help=True)
    app.add_typer(keys_app, name="api-keys")

    @keys_app.command("create")
    def keys_create(name: Annotated[str, typer.Argument(metavar="NAME")],
                    expires_days: Annotated[float | None, typer.Option("--expires-days", min=0)] = None,
                    store: StoreOpt = None) -> None:
        """Create an API key and print it once."""
        import time

        from serving.platform.apikeys import ApiKeys

        expires = int((time.time() + expires_days * 86400) * 1000) if expires_days else None
        try:
            info, key = ApiKeys(_state(store)).create(name, expires)
        except ValueError as e:
            raise _fail(str(e)) from None
        typer.echo(key)
        typer.echo(f"(key id {info.key_id}; it is not shown again)", err=True)

    @keys_app.command("list")
    def keys_list(store: StoreOpt = None) -> None:
        """List API keys (ids and names, never secrets)."""
        from serving.platform.apikeys import ApiKeys

        for k in ApiKeys(_state(store)).list():
            state = "active" if k.active else ("revoked" if k.revoked_ms else "expired")
            typer.echo(f"{k.key_id}  {state:<8} created {_ts(k.created_ms)}  expires {_ts(k.expires_ms)}  {k.name}")

    @keys_app.command("revoke")
    def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], store: StoreOpt = None) -> None:
        """Revoke an API key (takes effect within seconds)."""
        from serving.platform.apikeys import ApiKeys

        if not ApiKeys(_state(store)).revoke(key_id):
            raise _fail(f"no active API key with id {key_id}")
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
