"""The serving platform: deployments (deploy, list, stop, restore), their catalog records, the gateway pools.

A deploy request is checked whole before anything is written (bounded numbers and strings, no control characters,
the project, file and function as committed); a refused one leaves no deployment and no outbox entry. Messages
name paths as the caller gave them: never the server's own (its working directory, interpreter, store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from catalog import (
    BuildEnvironment,
    BuildIdentity,
    BuildRequest,
    Conflict,
    CrnError,
    CrnScope,
    InvalidInput,
    NotFound,
    Principal,
    ProjectRef,
    ResolvedBuild,
    administrator,
    bare_id,
    identify_build,
    no_control,
    project_path,
    resolve_ref,
    uncommitted_change,
)
from serving.platform import outbox
from serving.platform.buildenv import BuildEnv, BuildFailed, ensure_env, find_env, prune
from serving.platform.modelfile import check_model_file
from serving.platform.routing import Route, load_routes
from serving.platform.snapshot import export_build
from serving.platform.state import State, sha256_hex
from serving.platform.supervisor import DeploymentSpec, Progress, Supervisor
from serving.platform.traffic import TrafficRecorder
from serving.platform.versions import Versions

log = logging.getLogger(__name__)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The platform's own settings, and what the replica is started with: a model must not shadow or read them.
RESERVED_ENV_PREFIXES = ("MLCATALOG_", "CDSW_")
RESERVED_ENV = frozenset({"PATH", "HOME", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "LD_PRELOAD",
                          "LD_LIBRARY_PATH", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE"})
MAX_ENV = 100
MAX_REPLICAS = 16
MAX_CPU_MILLICORES = 1_000_000  # a thousand cores
MAX_MEMORY_MB = 16 * 1024 * 1024  # 16 TiB
MAX_NAME = 200
CATALOG_GUID_WAIT_S = 5.0
SYNC_RETRY_S = 60.0  # a deployment this instance could not start (another one runs it) is tried again after this
STALE_TRANSITION_MS = 15 * 60_000  # shared state: a deploy or stop unfinished this long was its instance's last
# an absolute path (two components or more) in a message: everything up to its last component
_DIRECTORIES = re.compile(r"(?<![\w:/.~-])/(?:[^/\s'\"|:,;()]+/)+")


def _env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise ValueError(f"{name[:64]!r} is not an environment variable name (letters, digits, _)")
    if name.upper().startswith(RESERVED_ENV_PREFIXES) or name.upper() in RESERVED_ENV:
        raise ValueError(f"{name} is set by the platform (or is one of its settings): a deployment cannot set it")
    return name


def _env_value(value: str) -> str:
    if "\x00" in value:
        raise ValueError("an environment variable's value cannot hold a NUL character")
    return value


EnvName = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_env_name)]
EnvValue = Annotated[str, Field(max_length=32_768), AfterValidator(_env_value)]


def _without_directories(text: str) -> str:
    """``text`` with every absolute path cut to its last component (a replica's log tail, an OS error)."""
    return _DIRECTORIES.sub("", text)


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_dir: Annotated[str, Field(min_length=1, max_length=4096,
                                      description="the project's directory, relative to the platform's projects "
                                                  "root (an absolute path must lie under it)"),
                           AfterValidator(no_control)]
    model: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_control)]
    file: Annotated[str, Field(min_length=1, max_length=1024,
                               description="model file, relative to the project directory"),
                    AfterValidator(no_control)]
    function: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)]
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    cpu_millicores: int = Field(default=1000, ge=1, le=MAX_CPU_MILLICORES)
    memory_mb: int = Field(default=2048, ge=1, le=MAX_MEMORY_MB)
    auth_enabled: bool = True
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(no_control)] | None = None
    env: dict[EnvName, EnvValue] = Field(default_factory=dict, max_length=MAX_ENV,
                                         description="environment variables of the replicas, besides the minimal "
                                                     "environment the platform gives them")
    canary: int | None = Field(default=None, ge=1, le=99,
                               description="a model already live: this percent of its calls go to the new build, "
                                           "the rest to the live one (unset: all, once the new build is ready)")
    shadow: bool = Field(default=False, description="a model already live: the new build gets a copy of every call, "
                                                    "its answers recorded and never returned")
    sticky_field: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)] | None = Field(
        default=None, description="calls with the same value of this request field go to the same build")

    @model_validator(mode="after")
    def _one_mode(self) -> DeployRequest:
        if self.canary is not None and self.shadow:
            raise ValueError("a new build is either a canary (canary) or a shadow (shadow), not both")
        return self


class DeployResult(BaseModel):
    crn: str
    modelCrn: str
    buildCrn: str
    accessKey: str | None = Field(description="the model's access key, shown once, at the model's first deploy, and "
                                              "stored only hashed; None at later deploys (the key is unchanged)")
    accessKeyHint: str = Field(default="", description="the model's access key's first characters")
    role: str = Field(default="live", description="live, canary or shadow")
    trafficPercent: int = Field(default=100, description="share of the model's calls the new build answers")
    endpoint: str
    guid: str | None = None  # the deployment entity in the catalog; None while the outbox has not delivered it


class DeploymentInfo(BaseModel):
    crn: str
    name: str
    model_name: str
    model_crn: str
    build_crn: str
    project_crn: str
    project: str = Field(description="the project's name (its directory's)")
    owner: str = Field(default="", description="the credential that deployed it (a key id), for audit")
    status: str
    replicas: int
    cpu_millicores: int
    memory_mb: int
    auth_enabled: bool
    access_key_hint: str = Field(description="the access key's first characters (the key is shown once, at deploy)")
    env: list[str] = Field(default_factory=list, description="the environment variables declared for its replicas "
                                                            "(names only)")
    endpoint: str
    create_time_ms: int
    deployed_time_ms: int
    catalog_guid: str | None = None
    drift_status: str | None = Field(default=None, description="the monitor's latest window: ok, warning, drifting, "
                                                               "unknown; None without a monitor")
    drift_columns: list[str] = Field(default_factory=list)
    replica_status: list[dict[str, Any]] = Field(default_factory=list)
    last_request_ms: int | None = Field(default=None, description="when a request to the deployment last finished, "
                                                                  "answered or failed (epoch ms); None if never")
    role: str = Field(default="retired", description="in its model's traffic: live, canary, shadow or retired")
    traffic_percent: int = Field(default=0, description="share of its model's calls it answers")


class BuildEnvironmentInfo(BaseModel):
    build_crn: str
    deployment_crn: str = Field(description="the latest deployment of the build, whose environment this is")
    environment: str = Field(description="the environment's key: a hash of runtime, requirements and build script")
    present: bool = Field(description="False once pruned (no deployment used it for a while): only the key is left")
    seconds: float | None = Field(default=None, description="how long making it took")
    packages: dict[str, str] = Field(default_factory=dict, description="what its interpreter imports: name -> "
                                                                       "version (its own over the runtime's)")
    installed: dict[str, str] = Field(default_factory=dict, description="what the build installed itself")
    log: list[str] = Field(default_factory=list, description="the build log's last lines (uv, cdsw-build.sh)")


class Platform:
    def __init__(self, state: State, supervisor: Supervisor, scope: CrnScope, endpoint: str,
                 wake_outbox: Any = None, traffic: TrafficRecorder | None = None, *,
                 projects_root: Path | None = None, resolve: Callable[[BuildRequest], ResolvedBuild],
                 lineage: Callable[[str, dict[str, Any], str], list[dict[str, Any]]] | None = None,
                 builds_dir: Path | None = None, env_keep_s: float = 7 * 86400) -> None:
        """``resolve``: a build's facts (the catalog's ``resolve_build``), which the outbox records later.
        ``lineage``: the OpenLineage events (JSON) of a catalog entry (its kind, payload and the project's name),
        queued with it in the same transaction; None: none."""
        self.state = state
        self.lineage = lineage
        self.resolve = resolve
        self.projects_root = projects_root or Path.cwd()  # deployable projects live under it
        self.other_roots: list[Path] = []  # the platform's own projects (the demo's, in its store)
        self.traffic = traffic  # what the gateway records: the last request's time in the deployment info
        self.supervisor = supervisor
        self.builds_dir = builds_dir or supervisor.run_dir.parent / "builds"  # the deployments' snapshots
        self.envs_dir = self.builds_dir.parent / "build-envs"  # the builds' Python environments and uv's cache
        self.env_keep_s = env_keep_s  # an environment no deployment uses is pruned after this long unused
        self.scope = scope  # where deployment CRNs are minted
        self.endpoint = endpoint.rstrip("/") + "/model"
        self.wake_outbox = wake_outbox or (lambda: None)
        self.served: dict[str, dict[str, Any]] = {}  # crn -> row of each deployment whose replicas run here
        # deployments this instance is bringing into their model's traffic (started, not yet recorded deployed):
        # sync must not stop them, housekeeping must not remove their snapshots
        self.pinned: set[str] = set()
        self._starts: dict[str, asyncio.Future[None]] = {}  # crn -> its start in progress here (one at a time)
        self.restoring: asyncio.Task[None] | None = None  # bringing back at start-up what was running
        self.versions = Versions(self)
        self._sync_failed: dict[str, float] = {}  # crn -> when starting it here last failed (monotonic)

    # -- queries ------------------------------------------------------------------------------------
    def _info(self, row: Any) -> DeploymentInfo:
        d = dict(row)
        drift = self.state.conn().execute("SELECT drift_status, drift_columns FROM monitor WHERE deployment_crn = ?",
                                          (d["crn"],)).fetchone()
        return DeploymentInfo(crn=d["crn"], name=d["name"], model_name=d["model_name"], model_crn=d["model_crn"],
                              build_crn=d["build_crn"], project_crn=d["project_crn"], status=d["status"],
                              replicas=d["replicas"], cpu_millicores=d["cpu_millicores"], memory_mb=d["memory_mb"],
                              auth_enabled=bool(d["auth_enabled"]), access_key_hint=d["access_key_hint"],
                              endpoint=self.endpoint, project=PurePosixPath(d["project_dir"]).name, owner=d["owner"],
                              env=sorted(json.loads(d["env"])),
                              create_time_ms=d["create_time_ms"], deployed_time_ms=d["deployed_time_ms"],
                              catalog_guid=d["catalog_guid"], replica_status=self.supervisor.replicas(d["crn"]),
                              drift_status=drift[0] if drift else None,
                              drift_columns=json.loads(drift[1]) if drift and drift[1] else [],
                              last_request_ms=self.traffic.last_request_ms(d["crn"]) if self.traffic else None,
                              **self.versions.share(d["model_crn"], d["crn"]))

    def list(self) -> list[DeploymentInfo]:
        rows = self.state.conn().execute("SELECT * FROM deployment ORDER BY create_time_ms").fetchall()
        return [self._info(r) for r in rows]

    def known_crns(self, kind: str) -> tuple[str, ...]:
        """Every deployment's (``kind`` "crn"), build's ("build_crn") or model's ("model_crn") CRN, stopped ones too."""
        column = {"crn": "crn", "build_crn": "build_crn", "model_crn": "model_crn"}[kind]
        return tuple(r[0] for r in self.state.conn().execute(f"SELECT DISTINCT {column} FROM deployment"))

    def get(self, crn: str) -> DeploymentInfo:
        row = self.state.conn().execute("SELECT * FROM deployment WHERE crn = ?", (crn,)).fetchone()
        if row is None:
            raise NotFound(f"no deployment {crn}")
        return self._info(row)

    def by_crn(self, crn: str) -> DeploymentInfo | None:
        try:
            return self.get(crn)
        except NotFound:
            return None

    def resolve_deployment(self, ref: str) -> str:
        """A deployment's CRN from its CRN or CML's bare ``/<id>`` form; NotFound when the platform has none."""
        try:
            crn = resolve_ref(ref, self.known_crns("crn") if bare_id(ref) else ())
        except CrnError as e:
            raise InvalidInput(str(e)) from None
        if crn is None or self.by_crn(crn) is None:
            raise NotFound(f"no deployment {ref.strip()}")
        return crn

    def route(self, access_key: str) -> Route | None:
        """The traffic of the model (or the older, single deployment) ``access_key`` calls."""
        return self.versions.routes.get(sha256_hex(access_key))

    @staticmethod
    def project_ref(d: dict[str, Any] | DeploymentInfo) -> ProjectRef:
        """The project a deployment (its row, or its info) belongs to, for authorization."""
        if isinstance(d, DeploymentInfo):
            return ProjectRef(crn=d.project_crn, name=d.project)
        return ProjectRef(crn=d["project_crn"], name=PurePosixPath(d["project_dir"]).name)

    def project_for(self, kind: str, crn: str) -> ProjectRef | None:
        """The project of a deployment (``kind`` "crn"), model ("model_crn") or build ("build_crn") this platform
        deployed; None when it never did."""
        column = {"crn": "crn", "build_crn": "build_crn", "model_crn": "model_crn"}[kind]
        row = self.state.conn().execute(f"SELECT project_crn, project_dir FROM deployment WHERE {column} = ? "
                                        "LIMIT 1", (crn,)).fetchone()
        return None if row is None else self.project_ref(dict(row))

    def project_path(self, given: str) -> Path:
        return project_path(self.projects_root, given, self.other_roots)

    # -- commands -----------------------------------------------------------------------------------
    def _record(self, d: dict[str, Any], status: str, deployed_ms: int, route: Route | None = None
                ) -> dict[str, Any]:
        """The deployment's catalog record; its role and share from ``route`` (default: the model's now)."""
        share: dict[str, Any] = ({"role": None, "traffic_percent": None} if status == "deploying"
                                 else self.versions.share(d["model_crn"], d["crn"], route))
        return {"crn": d["crn"], "build_crn": d["build_crn"], "model_crn": d["model_crn"],
                "model_name": d["model_name"], "name": d["name"], "status": status,
                "create_time_ms": d["create_time_ms"], "deployed_time_ms": deployed_ms,
                "cpu_millicores": d["cpu_millicores"], "memory_mb": d["memory_mb"], "replicas": d["replicas"],
                "endpoint_url": self.endpoint, "user": "mlcatalog", "traffic_role": share["role"],
                "traffic_percent": share["traffic_percent"], "metadata": {"accessKeyHint": d["access_key_hint"]}}

    def _enqueue(self, c: Any, kind: str, payload: dict[str, Any], d: dict[str, Any]) -> None:
        outbox.enqueue(c, kind, payload)
        if self.lineage is not None:
            for event in self.lineage(kind, payload, PurePosixPath(d["project_dir"]).name):
                outbox.enqueue(c, outbox.OPENLINEAGE, {"event": event})

    def _set_status(self, d: dict[str, Any], status: str, c: Any = None, route: Route | None = None) -> None:
        """Record a status change (inside ``c``'s transaction, or one of its own)."""
        if c is None:
            with self.state.tx() as own:
                self._set_status(d, status, own, route)
            self.wake_outbox()
            return
        now = int(time.time() * 1000)
        deployed = now if status == "deployed" else d.get("deployed_time_ms") or d["create_time_ms"]
        c.execute("UPDATE deployment SET status = ?, deployed_time_ms = ?, updated_ms = ? WHERE crn = ?",
                  (status, deployed, now, d["crn"]))
        self._enqueue(c, "deployment", self._record(d, status, deployed, route), d)
        d["status"], d["deployed_time_ms"] = status, deployed

    def validate(self, req: DeployRequest) -> tuple[Path, Path, BuildIdentity]:
        project = self.project_path(req.project_dir)
        try:
            if not project.is_dir():
                raise InvalidInput(f"project directory {req.project_dir} does not exist")
            file = (project / req.file).resolve()
            if not file.is_relative_to(project):
                raise InvalidInput(f"model file {req.file} is outside the project directory {req.project_dir}")
            if not file.is_file():
                raise InvalidInput(f"model file {PurePosixPath(req.project_dir) / req.file} does not exist")
        except OSError as e:  # a name too long for the file system, a loop of links, no permission
            raise InvalidInput(f"the project directory or model file cannot be read: {e.strerror or e}") from None
        if not IDENTIFIER.match(req.function):
            raise InvalidInput(f"function name {req.function!r} is not a Python identifier")
        check_model_file(file, req.function, req.file)
        build = identify_build(self.scope, project, req.model)
        # The catalog records the build at this commit; the replicas must serve that very code.
        why = uncommitted_change(build, project / req.file)
        if why is not None:
            raise InvalidInput(f"{why}: commit it, so that the build the catalog records is the code that is served")
        return project, file, build

    async def deploy(self, req: DeployRequest, who: Principal | None = None,
                     progress: Progress | None = None) -> DeployResult:
        """``who``: the credential asking (None: the platform itself); it must be allowed to deploy in the project,
        which is known only once the request is validated (its CRN comes from the repository). ``progress`` is told
        the stages and, while replicas start, their logs' last lines.

        The build's environment is made first (serving/platform/buildenv.py): a failing install refuses the deploy
        before anything is recorded. The first deploy of a model makes its access key; a deploy of a model that has
        one keeps it, and the new build takes the model's traffic once its replicas are ready and warm (all of it,
        ``canary`` percent of it, or a copy of it as a ``shadow``): :class:`~serving.platform.versions.Versions`."""
        tell = progress or (lambda event: None)
        project, file, build = self.validate(req)
        who = who or administrator("platform")
        who.require("deploy", ProjectRef(crn=build.project_crn, name=project.name), what=req.project_dir)
        project_crn, model_crn, build_crn, commit = build.project_crn, build.model_crn, build.build_crn, build.commit
        existing = self.versions.route_of(model_crn)
        self._check_auth_matches(existing, req)
        crn = self.scope.crn(uuid.uuid4())
        tell({"event": "stage", "message": f"build {build_crn} at {commit[:12]}: preparing its environment"})
        dest = self.builds_dir / crn.rsplit("/", 1)[-1]
        try:
            code, env = await self._prepare(project, commit, crn)
            tell({"event": "stage", "message": (
                f"environment {env.key} " + ("reused" if env.reused else f"made in {env.seconds:.1f}s")
                + f", {len(env.installed)} packages of its own over the runtime's")})
            # Resolved now, at the validated commit: the outbox may deliver the build once the project is gone.
            resolved = await asyncio.to_thread(self.resolve, BuildRequest(
                project_dir=str(project), models=[req.model], commit=commit, allow_unresolved=True,
                environment=BuildEnvironment(key=env.key, packages=env.packages)))
        except BaseException:  # nothing is recorded yet: nothing may be left either
            await asyncio.to_thread(shutil.rmtree, dest, True)
            raise
        # a model with a key keeps it: this deployment's own is a random one nobody holds
        access_key = secrets.token_hex(16)
        now = int(time.time() * 1000)
        name = req.name or re.sub(r"[^a-z0-9]+", "-", req.model.lower())[:MAX_NAME].strip("-") or "model"
        d: dict[str, Any] = {
            "crn": crn, "name": name, "model_name": req.model, "model_crn": model_crn, "build_crn": build_crn,
            "project_crn": project_crn, "project_dir": str(project), "commit_sha": commit, "file": str(file),
            "function": req.function, "access_key_hash": sha256_hex(access_key),
            "access_key_hint": existing.key_hint if existing else access_key[:6],
            "owner": who.who, "env": json.dumps(req.env, sort_keys=True), "auth_enabled": int(req.auth_enabled),
            "replicas": req.replicas, "cpu_millicores": req.cpu_millicores, "memory_mb": req.memory_mb,
            "status": "deploying", "create_time_ms": now, "deployed_time_ms": now, "updated_ms": now,
            "build_env": env.key,
        }
        with self.state.tx() as c:
            cols = ", ".join(d)
            c.execute(f"INSERT INTO deployment({cols}) VALUES ({', '.join('?' * len(d))})", list(d.values()))
            # Build first, then the deployment: the outbox replays in this order.
            self._enqueue(c, "build", {"model": req.model, "commit": commit,
                                       "resolved": resolved.model_dump(mode="json")}, d)
            self._enqueue(c, "deployment", self._record(d, "deploying", now), d)
        self.wake_outbox()
        self.pinned.add(crn)
        try:
            tell({"event": "stage", "message": (
                f"starting {req.replicas} replica{'s' if req.replicas > 1 else ''}: ready once {req.file} is "
                f"imported (start timeout {self.supervisor.ready_timeout:.0f}s)")})
            await self.supervisor.start(self._spec(d, code, env), progress)
            tell({"event": "stage", "message": "replicas ready; warming up with the model's EXAMPLE"})
            await self.versions.warm_up(d)
        except Exception as e:
            self.pinned.discard(crn)
            await self.supervisor.stop(crn)
            self._set_status(d, "stopped")
            why = " ".join(str(e).split())  # one line: the log tail may hold line breaks of its own
            log.warning("deployment %s failed to start: %s", crn, why)
            kept = " (the model's live build keeps serving)" if existing and existing.split else ""
            raise Conflict(f"deployment {crn} failed to start{kept}: {_without_directories(why)} "
                           f"(the replica logs: mlcatalog logs {crn})") from e
        self.served[crn] = d
        try:
            route = await self.versions.take_traffic(d, access_key, req)
        finally:
            self.pinned.discard(crn)
        share = self.versions.share(model_crn, crn, route)
        return DeployResult(crn=crn, modelCrn=model_crn, buildCrn=build_crn,
                            accessKey=access_key if route.key_hash == d["access_key_hash"] else None,
                            accessKeyHint=route.key_hint, role=share["role"], trafficPercent=share["traffic_percent"],
                            endpoint=self.endpoint, guid=await self._catalog_guid(crn))

    async def _prepare(self, project: Path, commit: str, crn: str) -> tuple[Path, BuildEnv]:
        """The deployment's snapshot of its build (snapshot.py) and the build's environment, made unless cached.
        BuildFailed (400, with the build log's tail) when the project's requirements or build script fail; the
        snapshot is then removed: nothing is left half-made."""
        dest = self.builds_dir / crn.rsplit("/", 1)[-1]
        try:
            code = await asyncio.to_thread(export_build, project, commit, dest)
        except (RuntimeError, OSError, subprocess.SubprocessError, tarfile.TarError) as e:
            await asyncio.to_thread(shutil.rmtree, dest, True)
            raise Conflict(f"the build's code could not be exported: {_without_directories(str(e))}") from None
        try:
            env = await asyncio.to_thread(ensure_env, code, self.envs_dir)  # its requirements, its cdsw-build.sh
        except BuildFailed as e:
            await asyncio.to_thread(shutil.rmtree, dest, True)
            raise BuildFailed("the build's environment could not be made, nothing was deployed: "
                              f"{_without_directories(str(e))}") from None
        except OSError as e:
            await asyncio.to_thread(shutil.rmtree, dest, True)
            raise Conflict(f"the build's environment could not be made: {_without_directories(str(e))}") from None
        return code, env

    def _check_auth_matches(self, route: Route | None, req: DeployRequest) -> None:
        """A model's key is one: its builds all check callers' API keys, or none does (a canary without the check
        would open a share of the model's calls to anyone holding its access key)."""
        if route is None or not route.members():
            return
        row = self.state.conn().execute(
            f"SELECT auth_enabled FROM deployment WHERE crn IN ({', '.join('?' * len(route.members()))}) LIMIT 1",
            sorted(route.members())).fetchone()
        if row is not None and bool(row["auth_enabled"]) != req.auth_enabled:
            said = "checks" if row["auth_enabled"] else "does not check"
            raise InvalidInput(f"the model's live build {said} callers' API keys: a new build of it must do the same "
                               f"({'without' if row['auth_enabled'] else 'with'} --no-auth)")

    async def _catalog_guid(self, crn: str, wait_s: float = CATALOG_GUID_WAIT_S) -> str | None:
        """The deployment's guid in the catalog, waiting a moment for the outbox to deliver it (it usually has,
        by the time the replicas are up); None when the catalog is slow or down (the outbox keeps trying)."""
        deadline = time.monotonic() + wait_s
        while True:
            row = self.state.conn().execute("SELECT catalog_guid FROM deployment WHERE crn = ?", (crn,)).fetchone()
            guid = row[0] if row is not None else None
            if guid or time.monotonic() >= deadline:
                return str(guid) if guid else None
            await asyncio.sleep(0.05)

    def _spec(self, d: dict[str, Any], code: Path, env: BuildEnv) -> DeploymentSpec:
        """What the supervisor starts: the replicas run the deployment's snapshot of its build in its environment,
        with the variables CML gives a model's engine."""
        project = Path(d["project_dir"])
        cml = {"CDSW_PROJECT": project.name, "CDSW_PROJECT_ID": d["project_crn"].rsplit("/", 1)[-1],
               "CDSW_CREATOR": d.get("owner") or "", "CDSW_CPU_MILLICORES": str(d["cpu_millicores"]),
               "CDSW_MEMORY_MB": str(d["memory_mb"]), "CDSW_DOMAIN": urlsplit(self.endpoint).netloc,
               "CDSW_MODEL_DEPLOYMENT_CRN": d["crn"], "CDSW_MODEL_BUILD_CRN": d["build_crn"]}
        return DeploymentSpec(crn=d["crn"], name=d["name"], model_crn=d["model_crn"], build_crn=d["build_crn"],
                              project_dir=str(code), file=str(code / Path(d["file"]).relative_to(project)),
                              function=d["function"], replicas=d["replicas"], env=json.loads(d["env"]),
                              python=str(env.python), cml_env=cml)

    def _latest_env(self, build_crn: str) -> tuple[str, str]:
        """The latest deployment of a build that recorded its environment, and that environment's key. NotFound when
        there is none (no deployment of the build was made here since environments were recorded)."""
        row = self.state.conn().execute(
            "SELECT crn, build_env FROM deployment WHERE build_crn = ? AND build_env != '' "
            "ORDER BY create_time_ms DESC LIMIT 1", (build_crn,)).fetchone()
        if row is None:
            raise NotFound(f"no deployment of build {build_crn} recorded its environment")
        return str(row["crn"]), str(row["build_env"])

    def build_deployment(self, build_crn: str) -> str:
        """The deployment whose project decides who may read the build's environment."""
        return self._latest_env(build_crn)[0]

    def build_environment(self, build_crn: str, lines: int = 200) -> BuildEnvironmentInfo:
        """The environment a build was last deployed with: its packages and its build log's last ``lines``."""
        crn, key = self._latest_env(build_crn)
        env = find_env(self.envs_dir, key)
        if env is None:
            return BuildEnvironmentInfo(build_crn=build_crn, deployment_crn=crn, environment=key, present=False)
        try:
            log_lines = [_without_directories(line) for line in env.log.read_text(errors="replace").splitlines()
                         [-lines:]]
        except OSError:
            log_lines = []
        return BuildEnvironmentInfo(build_crn=build_crn, deployment_crn=crn, environment=env.key,
                                    present=True, seconds=env.seconds, packages=env.packages,
                                    installed=env.installed, log=log_lines)

    async def housekeeping(self) -> dict[str, int]:
        """Remove what no deployment needs any more: build environments unused for ``env_keep_s`` (those of
        deployments not stopped are kept) and the snapshots of stopped deployments not served here (a rollback to
        one exports its commit again)."""
        conn = self.state.conn()
        rows = conn.execute("SELECT crn, status, build_env, updated_ms FROM deployment").fetchall()
        # a retired build a rollback may bring back keeps its snapshot (its untracked files as they were) and env
        routed = {crn for r in load_routes(conn) for crn in (*r.split, *r.previous, *([r.shadow] if r.shadow else []))}
        needed = routed | set(self.served) | self.pinned | set(self._starts)
        keep = {r["build_env"] for r in rows if r["status"] != "stopped" or r["crn"] in needed}
        envs = await asyncio.to_thread(prune, self.envs_dir, keep, self.env_keep_s)
        snapshots = 0
        stale = int(time.time() * 1000) - int(self.env_keep_s * 1000)
        for r in rows:
            dest = self.builds_dir / r["crn"].rsplit("/", 1)[-1]
            if r["status"] == "stopped" and r["crn"] not in needed and r["updated_ms"] < stale and dest.is_dir():
                await asyncio.to_thread(shutil.rmtree, dest, True)
                snapshots += 1
        if envs or snapshots:
            log.info("housekeeping: removed %d build environments and %d snapshots", len(envs), snapshots)
        return {"environments": len(envs), "snapshots": snapshots}

    async def stop(self, crn: str) -> DeploymentInfo:
        """Stop a deployment: out of its model's traffic first (the others' shares grow in proportion), then its
        calls in flight are answered, then its replicas stop."""
        row = self.state.conn().execute("SELECT * FROM deployment WHERE crn = ?", (crn,)).fetchone()
        if row is None:
            raise NotFound(f"no deployment {crn}")
        d = dict(row)
        if d["status"] != "stopped":
            await self.versions.leave(d)
            self._set_status(d, "stopping")
            await self.versions.drain(crn)
            self.served.pop(crn, None)
            await self.supervisor.stop(crn)
            self._set_status(d, "stopped")
        return self.get(crn)

    async def start_here(self, d: dict[str, Any]) -> None:
        """Run a recorded deployment's replicas in this instance (a rollback, a restart, another instance's); two
        asking at once share one start."""
        crn = d["crn"]
        if crn in self.served:
            return
        start = self._starts.get(crn)
        if start is None:
            start = self._starts[crn] = asyncio.ensure_future(self._start(d))
            start.add_done_callback(lambda _: self._starts.pop(crn, None))
        await asyncio.shield(start)  # one asker going away does not stop the start the others wait for

    async def _start(self, d: dict[str, Any]) -> None:
        code, env = await self._prepare(Path(d["project_dir"]), d["commit_sha"], d["crn"])
        await self.supervisor.start(self._spec(d, code, env))
        self.served[d["crn"]] = d

    def start_restoring(self) -> asyncio.Task[None]:
        """:meth:`restore` as a task of its own (:attr:`restoring` while it runs)."""
        task = self.restoring = asyncio.create_task(self.restore(), name="restore deployments")

        def done(t: asyncio.Task[None]) -> None:
            if not t.cancelled() and t.exception() is not None:
                log.error("restoring the deployments failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def is_restoring(self) -> bool:
        return self.restoring is not None and not self.restoring.done()

    async def restored(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the deployments running before the platform stopped to be back."""
        if self.restoring is not None and not self.restoring.done():
            await asyncio.wait({self.restoring}, timeout=timeout)

    async def restore(self) -> None:
        """At start-up: bring back what was running when the platform stopped, and finish the stops it was in the
        middle of (their replicas went with the old platform process: they exit when orphaned). With a state shared
        by several instances, a deploy or stop in progress belongs to the instance doing it: only one unfinished
        for :data:`STALE_TRANSITION_MS` (its instance died) is finished here."""
        rows = self.state.conn().execute(
            "SELECT * FROM deployment WHERE status IN ('deploying', 'deployed', 'stopping')").fetchall()
        stale_before = int(time.time() * 1000) - STALE_TRANSITION_MS
        for row in rows:
            d = dict(row)
            if self.state.shared and d["status"] != "deployed" and d["updated_ms"] > stale_before:
                continue
            if d["status"] == "stopping" or (d["status"] == "deploying" and not self._in_route(d)):
                # a deploy cut short before its build took traffic: it never served, it does not start now
                self._set_status(d, "stopped")
                continue
            try:
                await self.start_here(d)
            except Exception as e:  # noqa: BLE001 - one broken deployment must not keep the others down
                log.error("could not restore deployment %s: %s", d["crn"], e)
                if self.state.shared:  # another instance may serve it: not this one's to declare stopped
                    self._sync_failed[d["crn"]] = time.monotonic()
                    continue
                self._set_status(d, "stopped")
                continue
            if d["status"] != "deployed":
                self._set_status(d, "deployed")
        self.versions.reload()

    def _in_route(self, d: dict[str, Any]) -> bool:
        route = self.versions.route_of(d["model_crn"])
        return route is not None and d["crn"] in route.members()

    async def sync(self) -> None:
        """With a state shared by several instances: run replicas here of what another instance deployed, follow
        the models' traffic it set, and stop here what it stopped, so that every instance serves every deployment."""
        rows = self.state.conn().execute("SELECT * FROM deployment WHERE status = 'deployed'").fetchall()
        deployed = {r["crn"]: dict(r) for r in rows}
        now = time.monotonic()
        for crn, d in deployed.items():
            if crn in self.served or now - self._sync_failed.get(crn, -SYNC_RETRY_S) < SYNC_RETRY_S:
                continue
            try:
                await self.start_here(d)
            except Exception as e:  # noqa: BLE001 - the others still sync; this one is tried again later
                log.error("could not start deployment %s here (deployed by another instance): %s", crn, e)
                self._sync_failed[crn] = now
                continue
            self._sync_failed.pop(crn, None)
            log.info("deployment %s (deployed by another instance) now served here too", crn)
        self.versions.reload()
        for crn in [c for c in self.served if c not in deployed and c not in self.pinned]:
            await self.versions.drain(crn)
            if self.served.pop(crn, None) is not None:
                await self.supervisor.stop(crn)
                log.info("deployment %s stopped here (stopped by another instance)", crn)
