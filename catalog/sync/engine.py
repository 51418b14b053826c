"""Build and deployment capture: git HEAD + lineage.yml + Hive/S3 resolution → Atlas, idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from catalog.atlas.client import AtlasCatalogClient
from catalog.crn import derived_id, ml_crn
from catalog.errors import InvalidInput, Unresolved
from catalog.lineagefile import LineageFileError, ModelLineage, parse_lineage
from catalog.registration import apply_typedefs
from catalog.sync import diff
from catalog.sync.builder import (
    MANAGED_MARKER,
    BuildInput,
    Column,
    DeploymentInput,
    ProjectInput,
    TableFacts,
    TableInput,
    add_build,
    add_deployment,
    add_project,
    add_table,
    s3_directories,
)
from catalog.sync.git import GitHead, read_head
from catalog.sync.graph import Graph

log = logging.getLogger(__name__)


class TableDescriber(Protocol):
    def describe_table(self, db: str, table: str) -> Any: ...


class PrefixDescriber(Protocol):
    def describe_prefix(self, uri: str) -> Any: ...


@dataclass(frozen=True)
class CrnScope:
    region: str
    account: str
    workspace: str

    def crn(self, object_id: Any) -> str:
        return str(ml_crn(self.region, self.account, self.workspace, object_id))


@dataclass
class BuiltModel:
    model_name: str
    model_crn: str
    build_crn: str
    version: int
    new: bool


@dataclass
class SyncResult:
    project_crn: str | None = None
    commit: str | None = None
    builds: list[BuiltModel] = field(default_factory=list)
    creates: int = 0
    updates: int = 0
    written: int = 0
    notes: list[str] = field(default_factory=list)


def _facts(info: Any) -> TableFacts:
    def cols(items: Sequence[Any]) -> tuple[Column, ...]:
        return tuple(Column(name=c.name, type=c.type, comment=c.comment or None, position=c.position) for c in items)

    return TableFacts(
        columns=cols(info.columns), partition_keys=cols(info.partition_keys), table_type=info.table_type,
        location=info.location, owner=info.owner, create_time_ms=info.create_time_ms, comment=info.comment or None,
        input_format=info.input_format, output_format=info.output_format, serde=info.serde,
        parameters=tuple(sorted((info.parameters or {}).items())), view_text=info.view_text,
    )


def _iso(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Catalog:
    """The catalog's write side: everything that puts ML lineage into Atlas goes through here."""

    def __init__(self, client: AtlasCatalogClient, scope: CrnScope, namespace: str, *,
                 hive: TableDescriber | None = None, s3: PrefixDescriber | None = None) -> None:
        self.client = client
        self.scope = scope
        self.namespace = namespace
        self.hive = hive
        self.s3 = s3
        self._typedefs_ok = False

    def ensure_typedefs(self) -> None:
        if not self._typedefs_ok:
            apply_typedefs(self.client)
            self._typedefs_ok = True

    # -- builds -------------------------------------------------------------------------------------
    def build(self, project_dir: Path, models: list[str] | None = None, *, allow_unresolved: bool = False,
              progress: Callable[[int, int], None] | None = None, commit: str = "HEAD") -> SyncResult:
        head = read_head(project_dir, commit)
        try:
            lineage = parse_lineage(head.lineage_bytes, head.lineage_path)
        except LineageFileError as e:
            raise InvalidInput("\n".join(str(p) for p in e.problems)) from e
        if models:
            unknown = [m for m in models if m not in lineage.models]
            if unknown:
                raise InvalidInput(f"{head.lineage_path}: no model named {', '.join(map(repr, unknown))} "
                                   f"(models: {', '.join(map(repr, lineage.models))})")
            selected = [lineage.models[m] for m in models]
        else:
            selected = list(lineage.models.values())
        if not selected:
            raise InvalidInput(f"{head.lineage_path}: the file declares no models")
        self.ensure_typedefs()
        result = SyncResult(commit=head.commit)
        project = self.project_identity(project_dir, head)
        result.project_crn = project.crn
        graph = Graph()
        add_project(graph, project, int(time.time() * 1000))
        tables = self._resolve_tables(graph, selected, allow_unresolved, result.notes)
        s3_dirs, s3_meta = self._resolve_s3(graph, selected, allow_unresolved, result.notes)
        builds = self._versions(project.crn, selected, head.commit)
        for m in selected:
            model_crn, build_crn, version, new = builds[m.name]
            metadata = {**m.metadata, **{k: v for k, v in s3_meta.items() if k.split(" ", 1)[1] in
                                         {s.uri for s in m.s3_sources}}}
            add_build(graph, project, BuildInput(
                crn=build_crn, model_crn=model_crn, model_name=m.name, version=version, commit=head.commit,
                author=head.author, commit_time_ms=head.commit_time_ms, lineage_path=head.lineage_path,
                metadata=tuple(sorted(metadata.items())),
                tables=tuple(tables[t.qualified_name] for t in m.hive_tables),
                s3_dirs=tuple(s3_dirs[s.uri] for s in m.s3_sources)))
            result.builds.append(BuiltModel(m.name, model_crn, build_crn, version, new))
        self._write(graph, result, progress)
        return result

    def project_identity(self, project_dir: Path, head: GitHead) -> ProjectInput:
        """The project's CRN is derived from its repository (remote URL, else path) and sub-directory: stable
        across machines that clone the same remote, and computable without asking Atlas."""
        rel = project_dir.resolve().relative_to(head.root.resolve()).as_posix()
        identity = head.remote_url or str(head.root.resolve())
        return ProjectInput(crn=self.scope.crn(derived_id("project", identity, rel)), name=project_dir.resolve().name,
                            git_url=head.remote_url or str(head.root.resolve()))

    def identities(self, project_dir: Path, model: str, commit: str = "HEAD") -> tuple[str, str, str, str]:
        """(project CRN, model CRN, build CRN, commit) of a model at a commit, without any Atlas call."""
        head = read_head(project_dir, commit)
        project = self.project_identity(project_dir, head)
        model_crn = self.scope.crn(derived_id("model", project.crn, model))
        return project.crn, model_crn, self.scope.crn(derived_id("build", model_crn, head.commit)), head.commit

    def _resolve_tables(self, graph: Graph, models: list[ModelLineage], allow_unresolved: bool,
                        notes: list[str]) -> dict[str, str]:
        refs = {t.qualified_name: t for m in models for t in m.hive_tables}
        if not refs:
            return {}
        existing = self.client.find_by_qualified_names("hive_table", list(refs), ["parameters"])
        problems: list[str] = []
        declared_note = False
        for qn, ref in refs.items():
            h = existing.get(qn)
            params = (h.attributes.get("parameters") or {}) if h else {}
            if h is not None and MANAGED_MARKER not in params:
                add_table(graph, TableInput(ref.db, ref.table, ref.namespace, None, existing_foreign=True))
                continue
            facts: TableFacts | None = None
            if self.hive is None:
                declared_note = True
            else:
                try:
                    facts = _facts(self.hive.describe_table(ref.db, ref.table))
                except Exception as e:  # noqa: BLE001 - resolver errors carry one-line messages
                    if not _is_not_found(e):
                        raise
                    if not allow_unresolved:
                        problems.append(f"hive table {qn}: {e}")
                        continue
                    notes.append(f"hive table {qn} not found in HiveServer2: recorded as declared")
            add_table(graph, TableInput(ref.db, ref.table, ref.namespace, facts))
        if problems:
            raise Unresolved(problems + ["(use --allow-unresolved to record them as declared)"])
        if declared_note:
            notes.append("no HiveServer2 configured: tables not already in Atlas are recorded as declared")
        return {qn: qn for qn in refs}

    def _resolve_s3(self, graph: Graph, models: list[ModelLineage], allow_unresolved: bool,
                    notes: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        refs = {s.uri: s for m in models for s in m.s3_sources}
        dirs: dict[str, str] = {}
        meta: dict[str, str] = {}
        problems: list[str] = []
        for uri, ref in refs.items():
            if self.s3 is not None:
                try:
                    info = self.s3.describe_prefix(uri)
                    meta[f"s3 {uri}"] = (f"objects={info.object_count} bytes={info.total_size_bytes} "
                                         f"newest={_iso(info.newest_modified_ms)}")
                except Exception as e:  # noqa: BLE001
                    if not _is_not_found(e):
                        raise
                    if not allow_unresolved:
                        problems.append(f"s3 source {uri}: {e}")
                        continue
                    notes.append(f"s3 source {uri} not found: recorded as declared")
            dirs[uri] = s3_directories(graph, ref.scheme, ref.bucket, ref.prefix, self.namespace)
        if problems:
            raise Unresolved(problems + ["(use --allow-unresolved to record them as declared)"])
        if refs and self.s3 is None:
            notes.append("no S3 endpoint configured: S3 sources are recorded as declared")
        return dirs, meta

    def _versions(self, project_crn: str, models: list[ModelLineage], commit: str
                  ) -> dict[str, tuple[str, str, int, bool]]:
        """(model CRN, build CRN, version, new?) per model: a commit already built keeps its version."""
        ids: dict[str, tuple[str, str]] = {}
        for m in models:
            model_crn = self.scope.crn(derived_id("model", project_crn, m.name))
            ids[m.name] = (model_crn, self.scope.crn(derived_id("build", model_crn, commit)))
        found = self.client.find_by_qualified_names("ml_model_build", [b for _, b in ids.values()], ["version"])
        need_new = [mc for name, (mc, bc) in ids.items() if bc not in found]
        max_version: dict[str, int] = {}
        if need_new:
            flt = {"attributeName": "modelCrn", "operator": "in", "attributeValue": need_new}
            for h in self.client.search_all(type_name="ml_model_build", filters=flt,
                                            attributes=["modelCrn", "version"]):
                mc = str(h.attributes.get("modelCrn"))
                max_version[mc] = max(max_version.get(mc, 0), int(h.attributes.get("version") or 0))
        out: dict[str, tuple[str, str, int, bool]] = {}
        for name, (mc, bc) in ids.items():
            if bc in found:
                out[name] = (mc, bc, int(found[bc].attributes.get("version") or 1), False)
            else:
                out[name] = (mc, bc, max_version.get(mc, 0) + 1, True)
        return out

    # -- deployments --------------------------------------------------------------------------------
    def record_deployment(self, d: DeploymentInput) -> SyncResult:
        """Create or update a deployment and its deploy process (build → deployment)."""
        self.ensure_typedefs()
        graph = Graph()
        add_deployment(graph, d)
        result = SyncResult()
        self._write(graph, result, None)
        return result

    def _write(self, graph: Graph, result: SyncResult, progress: Callable[[int, int], None] | None) -> None:
        sync_plan = diff.plan(self.client, graph)
        missing = [d.qualified_name for d in graph.entities.values()
                   if not d.managed and d.key not in sync_plan.current]
        if missing:
            raise InvalidInput(f"not in Atlas: {', '.join(missing)}")
        result.creates, result.updates = sync_plan.creates, sync_plan.updates
        total = len(sync_plan.changes)
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        result.written = diff.apply(self.client, sync_plan, step)


def _is_not_found(e: Exception) -> bool:
    code = str(getattr(e, "code", ""))
    return code.endswith("not_found")
