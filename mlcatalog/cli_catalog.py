"""Catalog commands: typedefs apply, build, lineage, impact, lint, lineage-schema, api."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcatalog.settings import ConfigError, Settings, load_settings

AtlasUrl = Annotated[str | None, typer.Option("--atlas-url", metavar="URL", show_default=False,
                                             help="Atlas to talk to: http(s)://host:port, or "
                                                  "atlas+embedded:///store-dir to open a (stopped) platform's store. "
                                                  "Default: $MLCATALOG_ATLAS_URL, else atlas.url from the config "
                                                  "file, else the Atlas API of the platform at $MLCATALOG_URL")]
AtlasUser = Annotated[str | None, typer.Option("--atlas-user", metavar="USER", show_default=False,
                                              help="Default: $MLCATALOG_ATLAS_USER, else admin")]
AtlasPassword = Annotated[str | None, typer.Option(
    "--atlas-password", metavar="PW", show_default=False,
    help="Default: $MLCATALOG_ATLAS_PASSWORD (preferred: a flag is visible to other local users)")]
AtlasCaBundle = Annotated[Path | None, typer.Option(
    "--atlas-ca-bundle", metavar="PATH", show_default=False,
    help="PEM file of the CAs to trust for an https Atlas, instead of the default ones. "
         "Default: $MLCATALOG_ATLAS_CA_BUNDLE, else atlas.ca_bundle from the config file")]
AtlasVerifyTls = Annotated[bool | None, typer.Option(
    "--atlas-verify-tls/--no-atlas-verify-tls", show_default=False,
    help="check an https Atlas's certificate (off: a test Atlas only). "
         "Default: $MLCATALOG_ATLAS_VERIFY_TLS, else atlas.verify_tls from the config file, else on")]
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines() or [message]:
        typer.echo(f"mlcatalog: error: {line}", err=True)
    return typer.Exit(code)


def _settings(url: str | None, user: str | None, password: str | None, ca_bundle: Path | None = None,
              verify_tls: bool | None = None, **extra: Any) -> Settings:
    try:
        return load_settings({"atlas.url": url, "atlas.user": user, "atlas.password": password,
                              "atlas.ca_bundle": ca_bundle, "atlas.verify_tls": verify_tls, **extra})
    except ConfigError as e:
        raise _fail(str(e), 2) from None


def _run(fn: Any) -> Any:
    """Run a catalog call, turning its errors into one-line messages and exit codes."""
    from catalog.atlas.errors import AtlasClientError
    from catalog.errors import CatalogError, Unresolved

    try:
        return fn()
    except Unresolved as e:
        raise _fail("\n".join(e.problems), 1) from None
    except AtlasClientError as e:
        raise _fail(f"Atlas: {e}", 1) from None
    except CatalogError as e:
        raise _fail(e.message, 1) from None
    except ConfigError as e:
        raise _fail(str(e), 2) from None


def _make_env(s: Settings, project_dir: Path) -> Any:
    """The build environment of the project as committed at HEAD (as a deploy makes it, in the store's
    ``build-envs``, where a deploy of that commit reuses it); its facts for the build entity."""
    import tempfile

    from catalog.backend import BuildEnvironment
    from catalog.errors import InvalidInput
    from serving.platform.buildenv import ensure_env
    from serving.platform.snapshot import export_build

    with tempfile.TemporaryDirectory() as tmp:
        try:
            code = export_build(project_dir.resolve(), "HEAD", Path(tmp) / "code")
        except RuntimeError as e:
            raise InvalidInput(f"{project_dir}: {e}") from None
        env = ensure_env(code, s.server.store / "build-envs")
    made = "reused" if env.reused else f"made in {env.seconds:.1f}s"
    typer.echo(f"environment {env.key} {made}: {len(env.installed)} packages installed by the build, "
               f"{len(env.packages)} importable (build log: {env.log})", err=True)
    return BuildEnvironment(key=env.key, packages=env.packages)


def _build_request(project_dir: Path, models: list[str] | None, allow_unresolved: bool,
                   environment: Any = None) -> Any:
    """The request of ``mlcatalog build``: an option the catalog's bounds refuse (a NUL in a --model) is an
    InvalidInput naming the option."""
    from pydantic import ValidationError

    from catalog.backend import BuildRequest
    from catalog.errors import InvalidInput

    try:
        return BuildRequest(project_dir=str(project_dir), models=models or None, allow_unresolved=allow_unresolved,
                            environment=environment)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        option = {"project_dir": "--project-dir", "models": "--model"}.get(field, field)
        given = first.get("input")
        raise InvalidInput(f"{option} {given!r:.80}: {first['msg']}".strip()) from None


def _client(s: Settings) -> Any:
    from mlcatalog.assemble import atlas_client

    return _run(lambda: atlas_client(s, s.atlas_url_client()))


def _catalog(s: Settings) -> Any:
    from mlcatalog.assemble import local_catalog

    return _run(lambda: local_catalog(s, s.atlas_url_client()))


def _build_with_lineage(s: Settings, catalog: Any, request: Any, progress: Any) -> Any:
    """``catalog.build``, and its OpenLineage events when configured (mlcatalog.openlineage: sent at once, kept in
    a spool when they cannot be; a build never fails for them)."""
    from mlcatalog.openlineage import build_with_events, open_emitter

    emitter = open_emitter(s)
    if emitter is None:
        return catalog.build(request, progress)
    def deliver(events: list[dict[str, Any]]) -> None:
        emitter.send_or_spool(events, lambda message: typer.echo(f"mlcatalog: warning: {message}", err=True))

    try:
        return build_with_events(catalog, request, emitter, deliver, progress)
    finally:
        emitter.close()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def register(app: typer.Typer) -> None:  # noqa: C901 - one function lists the commands
    typedefs_app = typer.Typer(help="Atlas type definitions used by the catalog.", no_args_is_help=True)
    app.add_typer(typedefs_app, name="typedefs")

    @typedefs_app.command("apply")
    def typedefs_apply(atlas_url: AtlasUrl = None, atlas_user: AtlasUser = None,
                       atlas_password: AtlasPassword = None,
                       atlas_ca_bundle: AtlasCaBundle = None, atlas_verify_tls: AtlasVerifyTls = None,
                       dry_run: Annotated[bool, typer.Option("--dry-run", help="show, don't change")] = False
                       ) -> None:
        """Create the catalog's Atlas types where missing and add its optional attributes (idempotent)."""
        from catalog.registration import apply_typedefs

        s = _settings(atlas_url, atlas_user, atlas_password, atlas_ca_bundle, atlas_verify_tls)
        client = _client(s)
        try:
            plan = _run(lambda: apply_typedefs(client, dry_run=dry_run))
        finally:
            client.close()
        lines = plan.summary()
        for line in lines:
            typer.echo(("would " if dry_run else "") + line)
        if not lines:
            typer.echo("typedefs up to date: nothing to change")

    @app.command("build")
    def build(project_dir: Annotated[Path, typer.Option("--project-dir", metavar="DIR", help="the git project")],
              model: Annotated[list[str] | None, typer.Option("--model", metavar="NAME",
                                                             help="model (lineage.yml key); repeat for several; "
                                                                  "default: every model in the file")] = None,
              allow_unresolved: Annotated[bool, typer.Option(
                  "--allow-unresolved", help="record tables/S3 sources that cannot be found as declared")] = False,
              atlas_url: AtlasUrl = None, atlas_user: AtlasUser = None, atlas_password: AtlasPassword = None,
              atlas_ca_bundle: AtlasCaBundle = None, atlas_verify_tls: AtlasVerifyTls = None,
              env: Annotated[bool, typer.Option(
                  "--env", help="also make the build's Python environment (requirements.txt and cdsw-build.sh at "
                                "HEAD) as a deploy does, in the store, and record its packages on the build")] = False,
              as_json: Json = False) -> None:
        """Record a model build: lineage.yml as committed at HEAD → Atlas (project, build, lineage)."""
        from rich.progress import Progress

        s = _settings(atlas_url, atlas_user, atlas_password, atlas_ca_bundle, atlas_verify_tls)
        catalog = _catalog(s)
        try:
            with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as bar:
                task = bar.add_task("writing to Atlas", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                environment = _run(lambda: _make_env(s, project_dir)) if env else None
                request = _run(lambda: _build_request(project_dir, model, allow_unresolved, environment))
                result = _run(lambda: _build_with_lineage(s, catalog, request, progress))
        finally:
            catalog.close()
        if as_json:
            _print_json({"projectCrn": result.project_crn, "commit": result.commit,
                         "builds": [{"model": b.model_name, "modelCrn": b.model_crn, "buildCrn": b.build_crn,
                                     "version": b.version, "new": b.new, "guid": b.guid} for b in result.builds],
                         "created": result.creates, "updated": result.updates, "notes": result.notes})
            return
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        typer.echo(f"project {result.project_crn} @ {str(result.commit)[:12]}")
        for b in result.builds:
            typer.echo(f"  {b.model_name}: build v{b.version} {b.build_crn} (guid {b.guid})"
                       f"{'' if b.new else ' (unchanged commit)'}")
        typer.echo(f"{result.creates} created, {result.updates} updated")

    @app.command("lineage")
    def lineage(name: Annotated[str, typer.Argument(metavar="CRN|QN", help="deployment CRN or any qualifiedName")],
                atlas_url: AtlasUrl = None, atlas_user: AtlasUser = None, atlas_password: AtlasPassword = None,
                atlas_ca_bundle: AtlasCaBundle = None, atlas_verify_tls: AtlasVerifyTls = None,
                as_json: Json = False) -> None:
        """Print where a deployment (or any dataset) comes from, as a tree."""
        from collections.abc import Iterator

        from catalog.queries import LineageNode, upstream_tree

        s = _settings(atlas_url, atlas_user, atlas_password, atlas_ca_bundle, atlas_verify_tls)
        client = _client(s)

        def fetch() -> LineageNode:
            from catalog.errors import NotFound

            found = client.find_by_qualified_names("DataSet", [name]) or client.find_by_qualified_names(
                "Process", [name])
            if not found:
                raise NotFound(f"nothing in Atlas is named {name!r}")
            h = next(iter(found.values()))
            return upstream_tree(client.lineage(h.guid, "INPUT", 0), h.guid, h)

        try:
            tree = _run(fetch)
        finally:
            client.close()
        if as_json:
            _print_json(tree.model_dump())
            return

        def label(n: LineageNode) -> str:
            tags = f" [{', '.join(n.classifications)}]" if n.classifications else ""
            gone = " (deleted)" if n.status != "ACTIVE" else ""
            return f"{n.type_name}: {n.qualified_name or n.guid} (guid {n.guid}){tags}{gone}"

        def lines(n: LineageNode, prefix: str) -> Iterator[str]:
            for i, u in enumerate(n.upstream):
                last = i == len(n.upstream) - 1
                yield f"{prefix}{'└── ' if last else '├── '}{label(u)}"
                yield from lines(u, prefix + ("    " if last else "│   "))

        # Plain lines, never wrapped or cut: the tree is read by people and by grep alike.
        typer.echo(label(tree))
        for line in lines(tree, ""):
            typer.echo(line)

    @app.command("impact")
    def impact(name: Annotated[str, typer.Argument(metavar="QN", help="table, S3 prefix, build CRN...")],
               atlas_url: AtlasUrl = None, atlas_user: AtlasUser = None, atlas_password: AtlasPassword = None,
               atlas_ca_bundle: AtlasCaBundle = None, atlas_verify_tls: AtlasVerifyTls = None,
               as_json: Json = False) -> None:
        """List every deployment (and build) downstream of a table, S3 prefix or build."""
        from catalog.queries import CatalogQueries

        s = _settings(atlas_url, atlas_user, atlas_password, atlas_ca_bundle, atlas_verify_tls)
        client = _client(s)
        try:
            result = _run(lambda: CatalogQueries(client).impact(name))
        finally:
            client.close()
        if as_json:
            _print_json(result.model_dump())
            return
        typer.echo(f"{len(result.deployments)} deployment(s), {len(result.builds)} build(s) downstream of {name}")
        for d in result.deployments:
            tags = f" [{', '.join(d.classifications)}]" if d.classifications else ""
            typer.echo(f"  deployment {d.name} {d.crn} (guid {d.guid}) ({d.status}){tags}")
        for b in result.builds:
            typer.echo(f"  build {b.name} {b.crn} (guid {b.guid})")

    @app.command("lint")
    def lint(paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="lineage files or project dirs")]
             ) -> None:
        """Check lineage.yml files: one line per problem (file:line:column: message); exit 1 if any."""
        from catalog.lineagefile.cli import lint_command

        raise typer.Exit(lint_command(paths))

    @app.command("lineage-schema")
    def lineage_schema() -> None:
        """Print the JSON Schema of lineage.yml (for editors)."""
        from catalog.lineagefile.cli import schema_command

        schema_command()

    @app.command("api")
    def api(host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
            port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 21001,
            atlas_url: AtlasUrl = None, atlas_user: AtlasUser = None, atlas_password: AtlasPassword = None,
            atlas_ca_bundle: AtlasCaBundle = None, atlas_verify_tls: AtlasVerifyTls = None
            ) -> None:
        """Serve only the catalog API (/api/v1) in front of an Atlas (e.g. a real one)."""
        import uvicorn

        from catalog.api.app import TokenAuth, create_catalog_app
        from catalog.api.limits import MB
        from catalog.receive_timeout import BodyTimeouts
        from mlcatalog.settings import redact

        s = _settings(atlas_url, atlas_user, atlas_password, atlas_ca_bundle, atlas_verify_tls)
        catalog = _catalog(s)
        token = s.api.token.get_secret_value() if s.api.token else None
        auth = TokenAuth(token, s.api.read_auth, projects_root=s.serving.projects_root)
        asgi = create_catalog_app(catalog, auth, max_body=s.api.max_body_mb * MB,
                                  body_timeouts=BodyTimeouts(s.server.body_timeout_s, s.server.body_total_timeout_s))
        typer.echo(f"mlcatalog catalog API on http://{host}:{port}/api/v1 (Atlas {redact(s.atlas_url_client())})")
        try:
            uvicorn.run(asgi, host=host, port=port, log_level="warning", access_log=False)
        finally:
            catalog.close()
