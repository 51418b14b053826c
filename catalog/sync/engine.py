"""Build and deployment capture: git HEAD + lineage.yml + Hive/S3 resolution → Atlas, idempotently.

A build is captured in two steps: :meth:`Catalog.resolve_build` (git, the lineage file, HiveServer2 and S3: no
Atlas) makes a :class:`~catalog.sync.snapshot.ResolvedBuild`, which :meth:`Catalog.build_resolved` records (Atlas
only); ``mlcatalog build`` does both at once, the serving platform's outbox the second one later."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from catalog.atlas.client import SEARCH_CHUNK, AtlasCatalogClient, any_of
from catalog.atlas.errors import AtlasBadRequest
from catalog.atlas.models import Classification, Entity, EntityHeader
from catalog.backend import BuildEnvironment
from catalog.crn import CrnScope
from catalog.errors import InvalidInput, NotFound, Unresolved, UpstreamUnavailable
from catalog.identity import build_crn, committed_lineage, lineage_of, model_crn, project_input
from catalog.lineagefile import HiveTableRef, LineageFile, ModelLineage, S3Ref
from catalog.registration import apply_typedefs
from catalog.resolve.errors import ResolveError, is_not_found, to_catalog_error
from catalog.sync import diff
from catalog.sync.builder import (
    DRIFTING,
    MANAGED_MARKER,
    TABLE_READ_ATTRS,
    BuildInput,
    DeploymentInput,
    DriftInput,
    ProjectInput,
    TableInput,
    add_build,
    add_deployment,
    add_project,
    add_table,
    drift_attributes,
    looks_like_object,
    s3_directories,
    s3_object,
)
from catalog.sync.git import GitHead, read_head, uncommitted
from catalog.sync.graph import Graph
from catalog.sync.snapshot import (
    ASK_AGAIN,
    HiveFacts,
    Lookup,
    ResolvedBuild,
    ResolvedModel,
    S3Lookup,
    TableLookup,
)

log = logging.getLogger(__name__)
# a build's extension attributes naming the environment it is served from (typedefs/extensions)
ENVIRONMENT_ATTRS = ("buildEnvironment", "packages")


class TableDescriber(Protocol):
    def describe_table(self, db: str, table: str) -> Any: ...


class PrefixDescriber(Protocol):
    def describe_prefix(self, uri: str) -> Any: ...


@dataclass
class BuiltModel:
    model_name: str
    model_crn: str
    build_crn: str
    version: int
    new: bool
    guid: str | None = None  # the build entity's guid in Atlas, once written


@dataclass
class SyncResult:
    project_crn: str | None = None
    commit: str | None = None
    builds: list[BuiltModel] = field(default_factory=list)
    creates: int = 0
    updates: int = 0
    written: int = 0
    notes: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    guid: str | None = None  # a recorded deployment's guid in Atlas


@dataclass(frozen=True)
class _Version:
    model_crn: str
    build_crn: str
    version: int
    new: bool
    reused: bool = False
    written: bool = False  # this commit's build exists with the same lineage: nothing of it to rewrite


def lineage_digest(m: ModelLineage) -> str:
    """What a build's lineage is: its tables, S3 sources and metadata (order-insensitive)."""
    payload = {"tables": sorted(t.qualified_name for t in m.hive_tables), "s3": sorted(s.uri for s in m.s3_sources),
               "metadata": dict(sorted(m.metadata.items()))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _stale_parts(h: EntityHeader, graph: Graph, table_qn: str) -> list[tuple[str, str]]:
    """Columns and CREATETABLE processes Atlas links to the table that HiveServer2 no longer reports."""
    out: list[tuple[str, str]] = []
    for attr, type_name in (("columns", "hive_column"), ("partitionKeys", "hive_column"),
                            ("outputFromProcesses", "hive_process")):
        for ref in h.attributes.get(attr) or []:
            qn = (ref.get("uniqueAttributes") or {}).get("qualifiedName") if isinstance(ref, dict) else None
            guid = ref.get("guid") if isinstance(ref, dict) else None
            if not qn or not guid or (type_name, qn) in graph.entities:
                continue
            if type_name == "hive_process" and not str(qn).startswith(table_qn + ":"):
                continue  # another table's process writing into this one: not ours to remove
            out.append((str(guid), str(qn)))
    return out


def describe_table(hive: TableDescriber | None, ref: HiveTableRef) -> TableLookup:
    """What HiveServer2 says of the table (``not_asked`` without one)."""
    if hive is None:
        return TableLookup(lookup="not_asked")
    try:
        return TableLookup(lookup="described", facts=HiveFacts.of(hive.describe_table(ref.db, ref.table)))
    except ResolveError as e:
        return TableLookup(lookup=_failure(e), message=str(e))
    except ValidationError as e:
        return TableLookup(lookup="failed", message=f"HiveServer2 described hive table {ref.qualified_name} beyond "
                                                    f"what the catalog records: {_one_line(e)}")


def describe_s3(s3: PrefixDescriber | None, uri: str) -> S3Lookup:
    """What S3 says of the source (``not_asked`` without an S3 endpoint)."""
    if s3 is None:
        return S3Lookup(lookup="not_asked")
    try:
        info = s3.describe_prefix(uri)
        return S3Lookup(lookup="described", kind=info.kind, object_count=info.object_count,
                        total_size_bytes=info.total_size_bytes, newest_modified_ms=info.newest_modified_ms)
    except ResolveError as e:
        return S3Lookup(lookup=_failure(e), message=str(e))
    except ValidationError as e:
        return S3Lookup(lookup="failed", message=f"S3 described {uri} beyond what the catalog records: "
                                                 f"{_one_line(e)}")


def _failure(e: ResolveError) -> Lookup:
    if is_not_found(e):
        return "not_found"
    return "unavailable" if isinstance(to_catalog_error(e), UpstreamUnavailable) else "failed"


def _raise_unresolved(lookup: Lookup, message: str | None) -> None:
    """What a lookup that could not be made is to the caller (as the resolver's error would have been)."""
    if lookup == "unavailable":
        raise UpstreamUnavailable(message or "a resolver was unavailable")
    if lookup == "failed":
        raise InvalidInput(message or "a resolver failed")


def _one_line(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _select(lineage: LineageFile, models: list[str] | None, path: str) -> list[ModelLineage]:
    """The lineage file's entries of ``models`` (each once), or all of them for None."""
    if models:
        unknown = [m for m in models if m not in lineage.models]
        if unknown:
            raise InvalidInput(f"{path}: no model named {', '.join(map(repr, unknown))} "
                               f"(models: {', '.join(map(repr, lineage.models))})")
        selected = [lineage.models[m] for m in dict.fromkeys(models)]
    else:
        selected = list(lineage.models.values())
    if not selected:
        raise InvalidInput(f"{path}: the file declares no models")
    return selected


def _snapshot_models(resolved: ResolvedBuild) -> list[ModelLineage]:
    """The snapshot's models as its lineage file declares them; InvalidInput when its lookups are not exactly of
    their inputs (a snapshot is a request body too)."""
    selected = _select(lineage_of(resolved.lineage_text, resolved.lineage_path), [m.name for m in resolved.models],
                       resolved.lineage_path)
    tables = {t.qualified_name for m in selected for t in m.hive_tables}
    sources = {s.uri for m in selected for s in m.s3_sources}
    if set(resolved.tables) != tables or set(resolved.s3) != sources:
        raise InvalidInput("the resolved build's tables and S3 sources are not the inputs its lineage file names "
                           "for its models")
    return selected


def working_tree_note(head: GitHead) -> str | None:
    """A note when the lineage file in the working tree is not the one committed at ``head``, which is what a build
    records: an author who edited it and forgot to commit would otherwise think the edit was recorded."""
    file = head.root / head.lineage_path
    where = f"HEAD {head.commit[:12]}: the build records the committed version"
    if not os.path.lexists(file):
        return f"{head.lineage_path} is deleted in the working tree but committed at {where}"
    if uncommitted(head.root, file, head.commit) is None:
        return None
    return f"{head.lineage_path} in the working tree differs from {where} (commit your change to record it)"


def _has_values(e: Entity, attrs: dict[str, Any]) -> bool:
    """Whether the entity already has these attribute values (an empty list may come back as no value at all)."""
    for key, want in attrs.items():
        have = e.attributes.get(key)
        if have is None and isinstance(want, list):
            have = []
        if have != want:
            return False
    return True


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
              progress: Callable[[int, int], None] | None = None, commit: str = "HEAD",
              environment: BuildEnvironment | None = None) -> SyncResult:
        """Resolve the build and record it at once: a lookup HiveServer2 or S3 could not make fails the build now
        (as UpstreamUnavailable or InvalidInput) rather than being made a second time."""
        resolved = self.resolve_build(project_dir, models, allow_unresolved=allow_unresolved, commit=commit,
                                      environment=environment)
        return self.build_resolved(resolved, progress=progress, ask_again=False)

    def resolve_build(self, project_dir: Path, models: list[str] | None = None, *, allow_unresolved: bool = False,
                      commit: str = "HEAD", environment: BuildEnvironment | None = None) -> ResolvedBuild:
        """What recording builds of ``models`` (None: every model of the lineage file) at ``commit`` needs besides
        Atlas: the project's git facts and committed lineage file, the builds' CRNs, and what HiveServer2 and S3
        say of their inputs. Never reads Atlas. A lookup that cannot be made is kept as such (see
        :meth:`build_resolved`); InvalidInput for a project, commit or lineage file that cannot be built."""
        head = read_head(project_dir, commit)
        selected = _select(committed_lineage(head), models, head.lineage_path)
        notes: list[str] = []
        if commit == "HEAD":  # a build replayed at a named commit is not expected to match the working tree
            note = working_tree_note(head)
            if note is not None:
                notes.append(note)
        project = project_input(self.scope, project_dir, head)
        tables = {t.qualified_name: t for m in selected for t in m.hive_tables}
        sources = {s.uri for m in selected for s in m.s3_sources}
        try:
            return ResolvedBuild(
                project_crn=project.crn, project_name=project.name, git_url=project.git_url, commit=head.commit,
                author=head.author, commit_time_ms=head.commit_time_ms, lineage_path=head.lineage_path,
                lineage_text=head.lineage_bytes.decode("utf-8"), models=[self._identity(project.crn, m.name,
                                                                                        head.commit)
                                                                         for m in selected],
                reuse_unchanged=not models, allow_unresolved=allow_unresolved, notes=notes,
                tables={qn: describe_table(self.hive, ref) for qn, ref in tables.items()},
                s3={uri: describe_s3(self.s3, uri) for uri in sources}, environment=environment)
        except ValidationError as e:
            raise InvalidInput(f"{head.lineage_path} at {head.commit[:12]}: the build cannot be recorded: "
                               f"{_one_line(e)}") from None

    def _identity(self, project_crn: str, model: str, commit: str) -> ResolvedModel:
        mc = model_crn(self.scope, project_crn, model)
        return ResolvedModel(name=model, model_crn=mc, build_crn=build_crn(self.scope, mc, commit))

    def build_resolved(self, resolved: ResolvedBuild, *, progress: Callable[[int, int], None] | None = None,
                       ask_again: bool = True) -> SyncResult:
        """Record a resolved build in Atlas, from the snapshot alone: never the project directory or its repository.

        A lookup that could not be made when it was resolved is made again here with ``ask_again`` (by the resolver
        configured in this catalog; without one, the input is declared), else it fails the build as it did then:
        UpstreamUnavailable for a server that was unavailable, InvalidInput for one that refused."""
        selected = _snapshot_models(resolved)
        self.ensure_typedefs()
        result = SyncResult(project_crn=resolved.project_crn, commit=resolved.commit, notes=list(resolved.notes))
        project = ProjectInput(crn=resolved.project_crn, name=resolved.project_name, git_url=resolved.git_url)
        graph = Graph()
        add_project(graph, project, int(time.time() * 1000))
        # Building every model of the file: a model whose lineage entry is unchanged since its latest build keeps
        # that build. Naming models builds them at this commit (a new version per new commit).
        builds = self._versions(resolved, selected)
        selected = [m for m in selected if not builds[m.name].reused]
        stale: list[tuple[str, str]] = []
        known = self._record_tables(graph, selected, resolved, ask_again, result.notes, stale)
        s3_inputs, s3_meta = self._record_s3(graph, selected, resolved, ask_again, result.notes)
        for m in selected:
            v = builds[m.name]
            if v.written:
                continue
            metadata = {**m.metadata, **{k: val for k, val in s3_meta.items() if k.split(" ", 1)[1] in
                                         {s.uri for s in m.s3_sources}}}
            add_build(graph, project, BuildInput(
                crn=v.build_crn, model_crn=v.model_crn, model_name=m.name, version=v.version, commit=resolved.commit,
                author=resolved.author, commit_time_ms=resolved.commit_time_ms, lineage_path=resolved.lineage_path,
                lineage_digest=lineage_digest(m), metadata=tuple(sorted(metadata.items())),
                tables=tuple(t.qualified_name for t in m.hive_tables),
                s3_inputs=tuple(s3_inputs[s.uri] for s in m.s3_sources)))
        result.builds = [BuiltModel(name, v.model_crn, v.build_crn, v.version, v.new) for name, v in builds.items()]
        self._write(graph, result, progress, known, stale)
        found = self.client.find_by_qualified_names("ml_model_build", [b.build_crn for b in result.builds],
                                                    list(ENVIRONMENT_ATTRS))
        for b in result.builds:
            b.guid = found[b.build_crn].guid if b.build_crn in found else None
            # not onto a build kept from an earlier commit (its lineage unchanged): this environment is not its own
            if resolved.environment is not None and b.build_crn in found and not builds[b.model_name].reused:
                # the environment it is served from now (a partial update: the build's lineage is left as it was)
                attrs = {"buildEnvironment": resolved.environment.key, "packages": dict(resolved.environment.packages)}
                if any(found[b.build_crn].attributes.get(k) != v for k, v in attrs.items()):
                    self.client.partial_update("ml_model_build", b.build_crn, attrs)
                    result.updates += 1
        return result

    def _record_tables(self, graph: Graph, models: list[ModelLineage], resolved: ResolvedBuild, ask_again: bool,
                       notes: list[str], stale: list[tuple[str, str]]
                       ) -> dict[tuple[str, str], EntityHeader | None]:
        """Add the models' tables to the graph; returns what was read of them from Atlas (for the diff). Columns
        and processes of those tables that HiveServer2 no longer reports are added to ``stale``."""
        refs = {t.qualified_name: t for m in models for t in m.hive_tables}
        if not refs:
            return {}
        # Without HiveServer2 only what a declared table carries is compared (columns etc. are never written).
        asked = any(resolved.tables[qn].lookup != "not_asked" for qn in refs)
        attrs = TABLE_READ_ATTRS if asked else ["name", "parameters", "db"]
        existing = self.client.find_by_qualified_names("hive_table", list(refs), attrs)
        known: dict[tuple[str, str], EntityHeader | None] = {("hive_table", qn): existing.get(qn) for qn in refs}
        problems: list[str] = []
        declared_note = False
        for qn, ref in refs.items():
            h = existing.get(qn)
            params = (h.attributes.get("parameters") or {}) if h else {}
            if h is not None and MANAGED_MARKER not in params:
                add_table(graph, TableInput(ref.db, ref.table, ref.namespace, None, existing_foreign=True))
                continue
            look = self._table_lookup(ref, resolved.tables[qn], ask_again, notes)
            if look.lookup == "not_asked":
                declared_note = True
            elif look.lookup == "not_found":
                if not resolved.allow_unresolved:
                    problems.append(f"hive table {qn}: {look.message}")
                    continue
                if h is not None and params.get(MANAGED_MARKER) == "hiveserver2":
                    # Keep what an earlier build learnt rather than half-downgrading it to "declared".
                    notes.append(f"hive table {qn} not found in HiveServer2: kept its earlier record")
                    add_table(graph, TableInput(ref.db, ref.table, ref.namespace, None, existing_foreign=True))
                    continue
                notes.append(f"hive table {qn} not found in HiveServer2: recorded as declared")
            facts = look.facts.table_facts() if look.facts is not None else None
            add_table(graph, TableInput(ref.db, ref.table, ref.namespace, facts))
            if facts is not None and h is not None:
                stale.extend(_stale_parts(h, graph, qn))
        if problems:
            raise Unresolved([*problems, "(use --allow-unresolved to record them as declared)"])
        if declared_note:
            notes.append("no HiveServer2 configured: tables not already in Atlas are recorded as declared")
        return known

    def _table_lookup(self, ref: HiveTableRef, look: TableLookup, ask_again: bool, notes: list[str]) -> TableLookup:
        if ask_again and look.lookup in ASK_AGAIN:
            if self.hive is None:
                notes.append(f"hive table {ref.qualified_name} could not be described when the build was resolved "
                             f"({look.message}); no HiveServer2 is configured here")
                return TableLookup(lookup="not_asked")
            look = describe_table(self.hive, ref)
        _raise_unresolved(look.lookup, look.message)
        return look

    def _record_s3(self, graph: Graph, models: list[ModelLineage], resolved: ResolvedBuild, ask_again: bool,
                   notes: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Add the models' S3 sources to the graph: an object (what S3 said is one, or, unresolved, what looks like a
        file) or the deepest directory of a prefix. Returns uri -> the build input's qualifiedName, and the
        ``s3 <uri>`` build metadata of what S3 described."""
        refs = {s.uri: s for m in models for s in m.s3_sources}
        inputs: dict[str, str] = {}
        meta: dict[str, str] = {}
        problems: list[str] = []
        described: dict[str, S3Lookup | None] = {}  # uri -> what S3 said, None when not asked or not found
        not_asked = False
        for uri in refs:
            look = self._s3_lookup(uri, resolved.s3[uri], ask_again, notes)
            if look.lookup == "described":
                meta[f"s3 {uri}"] = (f"objects={look.object_count} bytes={look.total_size_bytes} "
                                     f"newest={_iso(look.newest_modified_ms)}")
            elif look.lookup == "not_found":
                if not resolved.allow_unresolved:
                    problems.append(f"s3 source {uri}: {look.message}")
                    continue
                notes.append(f"s3 source {uri} not found: recorded as declared")
            else:
                not_asked = True
            described[uri] = look if look.lookup == "described" else None
        if problems:
            raise Unresolved([*problems, "(use --allow-unresolved to record them as declared)"])
        recorded = self._recorded_objects([ref for uri, ref in refs.items() if described[uri] is None])
        for uri, ref in refs.items():
            info = described[uri]
            if info is not None and info.kind == "object":
                inputs[uri] = s3_object(graph, ref.scheme, ref.bucket, ref.prefix, self.namespace,
                                        size=info.total_size_bytes, modified_ms=info.newest_modified_ms)
            elif info is None and (uri in recorded or looks_like_object(ref.prefix)):
                inputs[uri] = s3_object(graph, ref.scheme, ref.bucket, ref.prefix, self.namespace)
            else:
                inputs[uri] = s3_directories(graph, ref.scheme, ref.bucket, ref.prefix, self.namespace)
        if not_asked:
            notes.append("no S3 endpoint configured: S3 sources are recorded as declared")
        return inputs, meta

    def _s3_lookup(self, uri: str, look: S3Lookup, ask_again: bool, notes: list[str]) -> S3Lookup:
        if ask_again and look.lookup in ASK_AGAIN:
            if self.s3 is None:
                notes.append(f"s3 source {uri} could not be described when the build was resolved ({look.message}); "
                             "no S3 endpoint is configured here")
                return S3Lookup(lookup="not_asked")
            look = describe_s3(self.s3, uri)
        _raise_unresolved(look.lookup, look.message)
        return look

    def _recorded_objects(self, refs: list[S3Ref]) -> set[str]:
        """The URIs of S3 sources nobody could look up that Atlas has as an object: what an earlier build learnt from
        S3 (or another tool recorded) beats guessing from the name, and a rebuild without S3 then writes nothing.

        A directory recorded under the name is not evidence the other way: builds before objects were told apart
        recorded ``data/wine.csv`` as a directory ``data/wine.csv/``, and that record is what is being corrected."""
        names = {f"{ref.scheme}://{ref.bucket}/{ref.prefix}@{self.namespace}": ref.uri
                 for ref in refs if ref.prefix and not ref.prefix.endswith("/")}
        if not names:
            return set()
        found = self.client.find_by_qualified_names("aws_s3_v2_object", list(names))
        return {names[qn] for qn, h in found.items() if h.type_name == "aws_s3_v2_object"}

    def _versions(self, resolved: ResolvedBuild, models: list[ModelLineage]) -> dict[str, _Version]:
        """Per model: its build at this commit (existing: same version), else the latest build when its lineage
        entry is unchanged and the snapshot says ``reuse_unchanged``, else a new build numbered after the latest."""
        reuse_unchanged = resolved.reuse_unchanged
        ids = {m.name: (m.model_crn, m.build_crn) for m in resolved.models}
        found = self.client.find_by_qualified_names("ml_model_build", [b for _, b in ids.values()],
                                                    ["version", "lineageDigest"])
        need_new = sorted({mc for mc, bc in ids.values() if bc not in found})
        latest: dict[str, EntityHeader] = {}
        for i in range(0, len(need_new), SEARCH_CHUNK):
            flt = any_of("modelCrn", need_new[i : i + SEARCH_CHUNK])
            for h in self.client.search_all(type_name="ml_model_build", filters=flt,
                                            attributes=["modelCrn", "version", "lineageDigest"]):
                mc = str(h.attributes.get("modelCrn"))
                if int(h.attributes.get("version") or 0) >= int((latest.get(mc) or h).attributes.get("version") or 0):
                    latest[mc] = h
        out: dict[str, _Version] = {}
        for m in models:
            mc, bc = ids[m.name]
            if bc in found:
                # A build is immutable: the same commit with the same lineage entry was written in full before.
                same = found[bc].attributes.get("lineageDigest") == lineage_digest(m)
                out[m.name] = _Version(mc, bc, int(found[bc].attributes.get("version") or 1), new=False,
                                       written=same)
                continue
            prev = latest.get(mc)
            prev_version = int(prev.attributes.get("version") or 0) if prev else 0
            if reuse_unchanged and prev is not None and prev.attributes.get("lineageDigest") == lineage_digest(m):
                out[m.name] = _Version(mc, str(prev.qualified_name), prev_version, new=False, reused=True)
            else:
                out[m.name] = _Version(mc, bc, prev_version + 1, new=True)
        return out

    # -- deployments --------------------------------------------------------------------------------
    def record_deployment(self, d: DeploymentInput) -> SyncResult:
        """Create or update a deployment and its deploy process (build → deployment)."""
        self.ensure_typedefs()
        graph = Graph()
        add_deployment(graph, d)
        result = SyncResult()
        self._write(graph, result, None)
        found = self.client.find_by_qualified_names("ml_model_deployment", [d.crn])
        result.guid = found[d.crn].guid if d.crn in found else None
        return result

    def record_drift(self, d: DriftInput) -> SyncResult:
        """Set a deployment's drift attributes (a partial update: nothing else of it changes) and keep its own
        DRIFTING classification exactly while the status is "drifting". Idempotent: what is already so is not
        written again (``written`` counts the Atlas writes made)."""
        self.ensure_typedefs()
        e = self.client.find_entity("ml_model_deployment", d.crn)
        if e is None or e.status != "ACTIVE":
            raise NotFound(f"no ml_model_deployment with CRN {d.crn}")
        result = SyncResult(guid=e.guid)
        attrs = drift_attributes(d)
        if not _has_values(e, attrs):
            self.client.partial_update("ml_model_deployment", d.crn, attrs)
            result.written += 1
        # Its own classification only: Atlas also lists the ones propagated to it (their entityGuid is another's).
        tagged = any(c.type_name == DRIFTING and c.entity_guid in (None, e.guid) for c in e.classifications)
        if d.status == "drifting" and not tagged:
            self._add_drifting(e)
            result.written += 1
        elif d.status != "drifting" and tagged and self.client.remove_classification(e.guid, DRIFTING,
                                                                                     missing_ok=True):
            result.written += 1
        result.updates = 1 if result.written else 0
        return result

    def _add_drifting(self, e: Entity) -> None:
        # Not propagated: a deployment's drift says nothing about what is downstream of it.
        try:
            self.client.add_classification(e.guid, Classification(type_name=DRIFTING, propagate=False))
        except AtlasBadRequest:
            # Atlas refuses a classification the entity already has: another writer may have just added it.
            if not any(c.type_name == DRIFTING and c.entity_guid in (None, e.guid)
                       for c in self.client.classifications(e.guid)):
                raise

    def _write(self, graph: Graph, result: SyncResult, progress: Callable[[int, int], None] | None,
               known: dict[tuple[str, str], EntityHeader | None] | None = None,
               stale: list[tuple[str, str]] | None = None) -> None:
        sync_plan = diff.plan(self.client, graph, known)
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
        for guid, qn in stale or []:
            # A column dropped from the table (or the table re-created): Atlas's hook deletes these too.
            self.client.delete(guid)
            result.deleted.append(qn)
            result.written += 1

