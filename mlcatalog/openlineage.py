"""OpenLineage events of builds and deployments, sent by the OpenLineage client with its own configuration.

Off unless configured (``[openlineage] enabled``, or a client config file). The events themselves are built by
``catalog.openlineage`` from the catalog's records; this module sends them:

* **The platform** (``mlcatalog up``): a deploy or stop queues its events in the platform's outbox, in the same
  transaction as its catalog entries (``Platform(lineage=...)``), and the outbox's OpenLineage lane sends them in
  order with backoff. A lineage backend that is down never blocks a deploy, nor the catalog's writes; an event
  the backend refuses for good (a 4xx) is parked like a refused catalog write (``mlcatalog outbox retry``).
* **``POST /api/v1/builds``** on the platform: the build's events go through the same outbox lane
  (:func:`build_with_events`, delivering into it).
* **``mlcatalog build``** runs without a platform (it writes to Atlas itself), so it has no outbox: it sends its
  events at once; one that cannot be delivered is printed as a warning and kept in a local spool file
  (``[openlineage] spool``, JSON lines), sent first by the next ``mlcatalog build`` that emits. The build itself
  never fails for its events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from catalog.backend import DeploymentRecord
from catalog.sync.snapshot import ResolvedBuild
from mlcatalog.settings import ConfigError, OpenLineageSettings, Settings
from serving.platform.outbox import Permanent, Retryable

__all__ = ["LineageEmitter", "build_with_events", "open_emitter"]

log = logging.getLogger(__name__)
# The client would add a sourceCodeLocation facet of its own process's git repository (mlcatalog's working
# directory) to events that have none: a deployment's is no code of it.
_CLIENT_DEFAULTS: dict[str, Any] = {"facets": {"source_code_location": {"disabled": True}}}
_RETRY_STATUSES = frozenset({401, 403, 408, 425, 429})


def _client_config(settings: OpenLineageSettings) -> dict[str, Any]:
    if settings.config is None:
        return dict(_CLIENT_DEFAULTS)
    try:
        data = yaml.safe_load(settings.config.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"OpenLineage config {settings.config}: cannot read: {e.strerror or e}") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"OpenLineage config {settings.config}: not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"OpenLineage config {settings.config}: expected a mapping (transport: ...)")
    return {**data, "facets": {**(data.get("facets") or {}), **_CLIENT_DEFAULTS["facets"]}}


class LineageEmitter:
    """Builds our events and sends them with the OpenLineage client (created from the settings)."""

    def __init__(self, settings: OpenLineageSettings, client: Any = None) -> None:
        from catalog.openlineage import Naming

        self.settings = settings
        self.naming = Naming(namespace=settings.namespace, hive_namespace=settings.hive_namespace)
        if client is None:
            try:
                from openlineage.client import OpenLineageClient
            except ImportError:
                raise ConfigError("OpenLineage is on but its client is not installed: "
                                  "pip install 'mlcatalog[openlineage]'") from None
            try:
                client = OpenLineageClient(config=_client_config(settings))
            except (ValueError, TypeError, KeyError) as e:  # the client's own refusal of its configuration
                raise ConfigError(f"OpenLineage client configuration: {e}") from None
        self.client = client

    # -- events ---------------------------------------------------------------------------------------------
    def build_events(self, resolved: ResolvedBuild, state: str, *, recorded: Mapping[str, str] | None = None,
                     when: datetime | None = None) -> list[dict[str, Any]]:
        from openlineage.client.event_v2 import RunState

        from catalog.openlineage import build_events, to_dict

        return [to_dict(e) for e in build_events(resolved, event_type=RunState(state), naming=self.naming,
                                                 event_time=when or datetime.now(UTC), recorded=recorded)]

    def deployment_events(self, record: DeploymentRecord, project: str, *, when: datetime | None = None
                          ) -> list[dict[str, Any]]:
        from catalog.openlineage import deployment_event, to_dict

        event = deployment_event(record, project, event_time=when or datetime.now(UTC), naming=self.naming)
        return [] if event is None else [to_dict(event)]

    def for_outbox(self, kind: str, payload: dict[str, Any], project: str) -> list[dict[str, Any]]:
        """The platform's hook: the events of a catalog outbox entry. A build at deploy time is one run, started
        and completed (the catalog records it later, from the same facts). Never raises: an event that cannot be
        made is logged, and the deploy goes on."""
        try:
            if kind == "build" and "resolved" in payload:
                resolved = ResolvedBuild.model_validate(payload["resolved"])  # the deployed model's alone
                return self.build_events(resolved, "START") + self.build_events(resolved, "COMPLETE")
            if kind == "deployment":
                return self.deployment_events(DeploymentRecord.model_validate(payload), project)
        except Exception:
            log.exception("no OpenLineage event for the %s outbox entry", kind)
        return []

    # -- delivery -------------------------------------------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> None:
        """Send one event (its JSON); :class:`Retryable` when the backend cannot take it now, :class:`Permanent`
        when it never will (it refused the event, or it is no event of ours)."""
        from catalog.openlineage import from_dict

        try:
            run_event = from_dict(event)
        except (ValueError, KeyError, TypeError) as e:
            raise Permanent(f"not an OpenLineage event of mlcatalog: {type(e).__name__}: {e}") from e
        try:
            self.client.emit(run_event)
        except Exception as e:
            status = getattr(getattr(e, "response", None), "status_code", None)
            if isinstance(status, int) and 400 <= status < 500 and status not in _RETRY_STATUSES:
                raise Permanent(f"the OpenLineage backend refused the event: HTTP {status}") from e
            raise Retryable(f"OpenLineage transport: {type(e).__name__}: {e}") from e

    def close(self) -> None:
        try:
            self.client.close(5.0)
        except Exception as e:  # noqa: BLE001 - closing a transport must not stop a shutdown
            log.warning("closing the OpenLineage client: %s", e)

    # -- mlcatalog build: no outbox, a spool ----------------------------------------------------------------
    def send_or_spool(self, events: list[dict[str, Any]], warn: Callable[[str], None]) -> int:
        """Send what the spool holds, then ``events``, in order; what cannot be sent now (and everything after it,
        to keep the order) is kept in the spool; an event refused for good is dropped with a warning. The number
        of events delivered."""
        spool = self.settings.spool
        queue = [*_read_spool(spool, warn), *events]
        sent = 0
        for i, event in enumerate(queue):
            try:
                self.emit(event)
            except Permanent as e:
                warn(f"OpenLineage event dropped: {e}")
                continue
            except Retryable as e:
                rest = queue[i:]
                _write_spool(spool, rest)
                warn(f"OpenLineage events not delivered ({e}); {len(rest)} kept in {spool} for the next build")
                return sent
            sent += 1
        _write_spool(spool, [])
        return sent


def _read_spool(path: Path, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        warn(f"OpenLineage spool {path}: cannot read: {e.strerror or e}")
        return []
    events = []
    for n, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            warn(f"OpenLineage spool {path}:{n}: not JSON, skipped")
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _write_spool(path: Path, events: list[dict[str, Any]]) -> None:
    if not events:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in events), encoding="utf-8")
    tmp.replace(path)  # a crash leaves the old spool or the new one, never half of one


def open_emitter(settings: Settings) -> LineageEmitter | None:
    """The emitter the settings ask for; None when OpenLineage is off. ConfigError when it cannot be made."""
    return LineageEmitter(settings.openlineage) if settings.openlineage.on else None


def build_with_events(catalog: Any, request: Any, emitter: LineageEmitter,
                      deliver: Callable[[list[dict[str, Any]]], None], progress: Any = None) -> Any:
    """``catalog.build(request)`` (a LocalCatalog, a BuildRequest) with its run events: START and COMPLETE with the
    recorded build CRNs, or START and FAIL when recording fails (then the error is raised). ``deliver`` takes the
    events: sent at once by ``mlcatalog build``, queued in the outbox by the platform; it never fails the build."""
    started = datetime.now(UTC)
    resolved = catalog.resolve_build(request)
    try:
        result = catalog.writer.build_resolved(resolved, progress=progress, ask_again=False)
    except Exception:
        deliver([*emitter.build_events(resolved, "START", when=started), *emitter.build_events(resolved, "FAIL")])
        raise
    recorded = {b.model_name: b.build_crn for b in result.builds}
    deliver([*emitter.build_events(resolved, "START", recorded=recorded, when=started),
             *emitter.build_events(resolved, "COMPLETE", recorded=recorded)])
    return result
