"""Commands over a model's builds: ``models``, ``traffic``, ``promote``, ``rollback`` (the platform's
``/api/v1/serving/models``; serving/platform/versions.py says what each does)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import Field, TypeAdapter

from mlcatalog.cli_serving import Json, Shape, Url, _fail, _request, _segment


class _Share(Shape):
    deployment_crn: str
    build_crn: str
    status: str
    role: str
    percent: int


class _Model(Shape):
    model_crn: str
    model_name: str
    access_key_hint: str
    sticky_field: str | None = None
    shares: list[_Share] = Field(default_factory=list)
    previous: dict[str, int] = Field(default_factory=dict)


MODEL: TypeAdapter[Any] = TypeAdapter(_Model)
MODELS: TypeAdapter[Any] = TypeAdapter(list[_Model])
ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="the model's CRN or name")]


def parse_shares(pairs: list[str]) -> dict[str, int]:
    """``BUILD=PCT`` arguments; a one-line error (exit 2) for one that is not."""
    shares: dict[str, int] = {}
    for pair in pairs:
        key, sep, value = pair.rpartition("=")
        if not sep or not key or not value.strip().isdecimal():
            raise _fail(f"{pair}: expected BUILD=PERCENT (a build or deployment CRN, a whole percent)", 2)
        if key in shares:
            raise _fail(f"{key}: given twice", 2)
        shares[key] = int(value)
    total = sum(shares.values())
    if total != 100:
        raise _fail(f"the shares sum to {total}, not 100: nothing changed", 2)
    return shares


def _show(m: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(m, indent=2))
        return
    sticky = f", sticky on {m['sticky_field']!r}" if m.get("sticky_field") else ""
    typer.echo(f"{m['model_name']}  {m['model_crn']}  (access key {m['access_key_hint']}...{sticky})")
    if not m["shares"]:
        typer.echo("  no build gets its calls (stopped)")
    for s in m["shares"]:
        typer.echo(f"  {s['percent']:>3}%  {s['role']:<7} {s['status']:<9} build {s['build_crn']}  "
                   f"deployment {s['deployment_crn']}")


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(url: Url = None, as_json: Json = False) -> None:
        """The models the platform serves: each build's share of the calls and its role (live, canary, shadow)."""
        rows = _request("GET", url, "/api/v1/serving/models", shape=MODELS)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no models")
        for m in rows:
            _show(m, False)

    @app.command("traffic")
    def traffic(model: ModelArg,
                shares: Annotated[list[str], typer.Argument(metavar="BUILD=PCT...", help="build (or deployment) "
                                                            "CRN and its percent of the calls; they sum to 100")],
                url: Url = None, as_json: Json = False) -> None:
        """Split a model's calls among its builds, e.g. mlcatalog traffic wine BUILD_A=90 BUILD_B=10. A retired
        build is started again first; a build left out is retired once its calls in flight are answered."""
        body = {"shares": parse_shares(shares)}
        _show(_request("PUT", url, f"/api/v1/serving/models/{_segment(model)}/traffic", body, shape=MODEL), as_json)

    @app.command("promote")
    def promote(model: ModelArg, url: Url = None, as_json: Json = False) -> None:
        """The model's canary (or shadow) takes all of its calls; the build it replaces is retired."""
        _show(_request("POST", url, f"/api/v1/serving/models/{_segment(model)}/promote", shape=MODEL), as_json)

    @app.command("rollback")
    def rollback(model: ModelArg, url: Url = None, as_json: Json = False) -> None:
        """Back to the model's traffic before its latest change (the previous build started again if needed)."""
        _show(_request("POST", url, f"/api/v1/serving/models/{_segment(model)}/rollback", shape=MODEL), as_json)
