"""Commands over builds' environments (serving/platform/buildenv.py): ``builds logs``, and the deploy request
that shows its progress (the platform's streamed deploy, serving/platform/deploystream.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import Field, TypeAdapter, ValidationError

from mlcatalog.cli_serving import (
    DEPLOYED,
    Json,
    Shape,
    Url,
    _answer,
    _error_message,
    _fail,
    _plain,
    _request,
    _segment,
    _settings,
    _unexpected,
    _unreachable,
)

NDJSON = "application/x-ndjson"
#: the platform says something at least every 10 s while a deploy runs (a "wait" event): this much silence is a
#: connection gone dead, not a slow model
SILENCE_S = 120.0
MESSAGE_LINES = 40


class _Event(Shape):
    event: str
    message: str = ""
    replica: str = ""
    lines: list[str] = Field(default_factory=list)
    seconds: int = 0


class _Environment(Shape):
    build_crn: str
    deployment_crn: str
    environment: str
    present: bool
    seconds: float | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    installed: dict[str, str] = Field(default_factory=dict)
    log: list[str] = Field(default_factory=list)


EVENT: TypeAdapter[Any] = TypeAdapter(_Event)
ENVIRONMENT: TypeAdapter[Any] = TypeAdapter(_Environment)


def unseen(before: list[str], now: list[str]) -> list[str]:
    """The lines of ``now`` (a log's last lines) after those already shown in ``before`` (its previous last lines):
    the longest end of ``before`` that ``now`` starts with is left out."""
    for k in range(min(len(before), len(now)), 0, -1):
        if before[-k:] == now[:k]:
            return now[k:]
    return now


def deploy_with_progress(url: str | None, body: dict[str, Any]) -> Any:
    """POST the deploy asking for its progress; each stage and the replicas' new log lines go to stderr while it
    runs. The deployment (the ``result`` event) or a one-line error."""
    import httpx

    s = _settings(url)
    base = s.client.url.rstrip("/")
    key = s.client_key()
    headers = {"Accept": NDJSON, **({"Authorization": f"Bearer {key}"} if key else {})}
    shown: dict[str, list[str]] = {}
    try:
        target = httpx.URL(base + "/api/v1/serving/deployments")
        with httpx.stream("POST", target, json=body, headers=headers,
                          timeout=httpx.Timeout(30.0, read=SILENCE_S)) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise _fail(_error_message(resp, False))
            if not resp.headers.get("content-type", "").startswith(NDJSON):  # refused or done at once: plain JSON
                resp.read()
                return _answer(resp, base, DEPLOYED)
            for raw in resp.iter_lines():
                if not raw.strip():
                    continue
                try:
                    event = json.loads(raw)
                    EVENT.validate_python(event, strict=True)
                except (ValueError, ValidationError):
                    raise _unexpected(base, f"a progress line that is not an event: {_plain(raw, 80)}") from None
                kind = event["event"]
                if kind == "stage":
                    typer.echo(f"... {event.get('message', '')}", err=True)
                elif kind == "log":
                    replica = event.get("replica", "")
                    for line in unseen(shown.get(replica, []), event.get("lines", [])):
                        typer.echo(f"    [{replica}] {line}", err=True)
                    shown[replica] = event.get("lines", [])
                elif kind == "error":  # each line of it: a failed build's message ends with its log's tail
                    message = str(event.get("message") or f"HTTP {event.get('status')}")
                    raise _fail("\n".join(_plain(line) for line in message.splitlines()[:MESSAGE_LINES]))
                elif kind == "result":
                    result = {k: v for k, v in event.items() if k != "event"}
                    try:
                        DEPLOYED.validate_python(result, strict=True)
                    except ValidationError:
                        raise _unexpected(base, "a deploy result without the deployment's CRN") from None
                    return result
    except httpx.HTTPError as e:
        raise _unreachable(base, type(e).__name__) from None
    except (httpx.InvalidURL, UnicodeError) as e:
        raise _unreachable(base, f"not a usable URL: {_plain(e, 120)}") from None
    raise _unexpected(base, "the deploy's progress ended without its result")


def register(app: typer.Typer) -> None:
    builds = typer.Typer(help="Builds' Python environments: their packages and build logs.", no_args_is_help=True)
    app.add_typer(builds, name="builds")

    @builds.command("logs")
    def logs(build: Annotated[str, typer.Argument(metavar="BUILD", help="the build's CRN")],
             lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="last lines of the build log")] = 200,
             url: Url = None, as_json: Json = False) -> None:
        """Print a build's environment (made from requirements.txt and cdsw-build.sh at its latest deploy): its
        key, the packages it installed, and its build log."""
        env = _request("GET", url, f"/api/v1/serving/builds/{_segment(build, '/:')}/environment",
                       params={"lines": lines}, shape=ENVIRONMENT)
        if as_json:
            typer.echo(json.dumps(env, indent=2))
            return
        typer.echo(f"build {env['build_crn']}: environment {env['environment']} "
                   f"(latest deployment {env['deployment_crn']})")
        if not env["present"]:
            typer.echo("  pruned (no deployment used it for a while): its packages are in the catalog's build "
                       "entity; the next deploy makes it again")
            return
        seconds = env.get("seconds")
        typer.echo(f"  made in {seconds:.1f}s; {len(env.get('packages', {}))} packages importable, "
                   f"{len(env.get('installed', {}))} installed by the build:" if seconds is not None else
                   f"  {len(env.get('packages', {}))} packages importable, {len(env.get('installed', {}))} "
                   "installed by the build:")
        for name, version in sorted(env.get("installed", {}).items()):
            typer.echo(f"    {name}=={version}")
        typer.echo("==> build log <==")
        for line in env.get("log", []):
            typer.echo(line)
