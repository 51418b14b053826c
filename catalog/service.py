"""The catalog in this process: its write side (:class:`Catalog`) and read side (:class:`CatalogQueries`) over one
Atlas client, behind :class:`catalog.backend.CatalogBackend`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from catalog.atlas.client import AtlasCatalogClient
from catalog.backend import (
    BuildRequest,
    BuildResult,
    BuiltModelOut,
    DatasetRef,
    DeploymentRecord,
    DriftRecord,
    WriteResult,
)
from catalog.crn import CrnScope
from catalog.lineage_graph import LineageGraphs
from catalog.queries import CatalogQueries
from catalog.sync.builder import DeploymentInput, DriftInput
from catalog.sync.engine import Catalog, PrefixDescriber, SyncResult, TableDescriber
from catalog.sync.snapshot import ResolvedBuild


class LocalCatalog:
    def __init__(self, client: AtlasCatalogClient, scope: CrnScope, namespace: str, *,
                 hive: TableDescriber | None = None, s3: PrefixDescriber | None = None,
                 on_close: Callable[[], None] | None = None, atlas_ui_url: str | None = None) -> None:
        """``atlas_ui_url``: the Atlas web UI lineage nodes link to (None: no links)."""
        self.client = client
        self.writer = Catalog(client, scope, namespace, hive=hive, s3=s3)
        self.queries = CatalogQueries(client)
        self.lineage = LineageGraphs(client, atlas_ui_url)
        self._on_close = on_close

    @property
    def scope(self) -> CrnScope:
        return self.writer.scope

    def build(self, request: BuildRequest, progress: Callable[[int, int], None] | None = None) -> SyncResult:
        return self.writer.build(Path(request.project_dir), request.models, allow_unresolved=request.allow_unresolved,
                                 progress=progress, commit=request.commit, environment=request.environment)

    def record_build(self, request: BuildRequest) -> BuildResult:
        return build_result(self.build(request))

    def resolve_build(self, request: BuildRequest) -> ResolvedBuild:
        """The request's builds resolved (git, the lineage file, HiveServer2 and S3; not Atlas), to record later
        with :meth:`record_resolved_build`, here or in another catalog."""
        return self.writer.resolve_build(Path(request.project_dir), request.models,
                                         allow_unresolved=request.allow_unresolved, commit=request.commit,
                                         environment=request.environment)

    def record_resolved_build(self, resolved: ResolvedBuild) -> BuildResult:
        return build_result(self.writer.build_resolved(resolved))

    def record_deployment(self, record: DeploymentRecord) -> WriteResult:
        d = DeploymentInput(crn=record.crn, build_crn=record.build_crn, model_crn=record.model_crn,
                            model_name=record.model_name, name=record.name, status=record.status,
                            create_time_ms=record.create_time_ms, deployed_time_ms=record.deployed_time_ms,
                            cpu_millicores=record.cpu_millicores, memory_mb=record.memory_mb, gpus=record.gpus,
                            replicas=record.replicas, endpoint_url=record.endpoint_url, user=record.user,
                            traffic_role=record.traffic_role, traffic_percent=record.traffic_percent,
                            metadata=tuple(sorted(record.metadata.items())))
        res = self.writer.record_deployment(d)
        return WriteResult(creates=res.creates, updates=res.updates, written=res.written, guid=res.guid)

    def record_drift(self, record: DriftRecord) -> WriteResult:
        res = self.writer.record_drift(DriftInput(
            crn=record.crn, status=record.status, columns=tuple(record.columns),
            checked_time_ms=record.checked_time_ms, window_start_ms=record.window_start_ms,
            window_end_ms=record.window_end_ms))
        return WriteResult(creates=res.creates, updates=res.updates, written=res.written, guid=res.guid)

    def build_inputs(self, build_crn: str) -> list[DatasetRef]:
        return self.queries.build_inputs(build_crn)

    def close(self) -> None:
        self.client.close()
        if self._on_close is not None:
            self._on_close()


def build_result(res: SyncResult) -> BuildResult:
    return BuildResult(project_crn=res.project_crn, commit=res.commit, creates=res.creates, updates=res.updates,
                       notes=res.notes,
                       builds=[BuiltModelOut(model_name=b.model_name, model_crn=b.model_crn, build_crn=b.build_crn,
                                             version=b.version, new=b.new, guid=b.guid) for b in res.builds])
