"""The model metrics SDK, compatible with CML's ``cdsw`` module (also importable as ``cdsw``).

Inside a model replica, ``@model_metrics`` gives every prediction a UUID, collects ``track_metric`` values and
writes one record per prediction to the metrics store, durably, before the prediction returns (so before the
HTTP response is sent). Outside a replica it runs in CML's *local development mode*: dev CRNs, and records kept
in the local metrics store instead of being forgotten.

Reading (``read_metrics``) and after-the-fact writes (``track_delayed_metrics``, ``track_aggregate_metrics``) for
real deployments go to the platform, like CML's SDK talks to the model metrics service.

Where the local store and the platform are comes from :class:`SdkSettings`, asked of the provider installed with
:func:`use_settings` the first time they are needed (``cdsw`` installs mlcatalog's settings: flags aside, the same
environment variables and config file as the ``mlcatalog`` command).
"""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from catalog import bare_id, dev_crn, is_crn_ref, resolve_ref
from serving.metrics import UnknownPrediction as StoreUnknownPrediction
from serving.metrics import open_metrics_store
from serving.metrics.models import TRUSTED, MetricRecord, normalize_metric

F = TypeVar("F", bound=Callable[..., Any])
MARKER = "__mlcatalog_model_metrics__"

dev_model_crn = str(dev_crn("model"))
dev_model_build_crn = str(dev_crn("model-build"))
dev_model_deployment_crn = str(dev_crn("model-deployment"))


class MetricsError(RuntimeError):
    """A metrics call that cannot be done (outside a prediction, unknown prediction UUID, platform error)."""


class UnknownPrediction(MetricsError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown prediction"


@dataclass(frozen=True)
class SdkSettings:
    metrics_url: str  # the local development store
    platform_url: str
    api_key: str | None = None


@dataclass
class _Prediction:
    uuid: str
    start_ms: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    deployment_crn: str
    build_crn: str | None
    model_crn: str | None
    metrics_url: str
    replica: bool
    store: Any = None


_current: contextvars.ContextVar[_Prediction | None] = contextvars.ContextVar("mlcatalog_prediction", default=None)
_context: _Context | None = None
_context_lock = threading.Lock()
_settings_provider: Callable[[], SdkSettings] | None = None
_settings: SdkSettings | None = None


def _now_ms() -> int:
    return int(time.time() * 1000)


def use_settings(provider: Callable[[], SdkSettings]) -> None:
    """Where the SDK finds its settings; asked once, the first time they are needed."""
    global _settings_provider, _settings
    _settings_provider, _settings = provider, None


def _get_settings() -> SdkSettings:
    global _settings
    if _settings is None:
        if _settings_provider is None:
            raise MetricsError("the metrics SDK is not configured: import it as `cdsw` (or call "
                               "serving.sdk.use_settings)")
        try:
            _settings = _settings_provider()
        except Exception as e:
            raise MetricsError(f"cannot read mlcatalog's settings: {e}") from e
    return _settings


def configure_replica(deployment_crn: str, build_crn: str, model_crn: str, metrics_url: str) -> None:
    """Called by the replica process before the model module is imported: records go to ``metrics_url`` under
    the replica's own CRNs. The store is opened here, so nothing is left to import once user code runs."""
    global _context
    with _context_lock:
        _context = _Context(deployment_crn, build_crn, model_crn, metrics_url, replica=True,
                            store=open_metrics_store(metrics_url))


def _ctx() -> _Context:
    global _context
    with _context_lock:
        if _context is None:
            _context = _Context(dev_model_deployment_crn, dev_model_build_crn, dev_model_crn,
                                _get_settings().metrics_url, replica=False)
            print("Not running in a model replica, so using a local development\n"
                  "version of the model metrics service (records are kept in "
                  f"{_context.metrics_url}). Please use the following\nCRN's to consume metrics:\n"
                  f'   model_crn: "{dev_model_crn}" (cdsw.dev_model_crn)\n'
                  f'   model_build_crn: "{dev_model_build_crn}" (cdsw.dev_model_build_crn)\n'
                  f'   model_deployment_crn: "{dev_model_deployment_crn}" (cdsw.dev_model_deployment_crn)',
                  file=sys.stderr)
        if _context.store is None:
            _context.store = open_metrics_store(_context.metrics_url)
        return _context


def _record(deployment: str, build: str | None, model: str | None, prediction_uuid: str | None, start_ms: int,
            end_ms: int, metrics: dict[str, Any]) -> MetricRecord:
    """The store's record; ``metrics`` hold only values that went through :func:`_check_json` already, so the
    record's validator does not walk them a second time."""
    return MetricRecord.model_validate(
        {"model_deployment_crn": deployment, "model_build_crn": build, "model_crn": model,
         "prediction_uuid": prediction_uuid, "start_ms": start_ms, "end_ms": end_ms, "metrics": metrics},
        context=TRUSTED)


def _check_json(key: Any, value: Any) -> Any:
    """``value`` as the store keeps it; MetricsError at the call site when it cannot be stored."""
    if not isinstance(key, str) or not key:
        raise MetricsError(f"metric key must be a non-empty string, got {key!r}")
    try:
        return normalize_metric(key, value)
    except ValueError as e:
        raise MetricsError(f"metric {key!r}: value is not JSON-serialisable ({e})") from e


# -- tracking --------------------------------------------------------------------------------------------
def model_metrics(fn: F) -> F:
    """Decorate a predict function: one metrics record and UUID per call; returns CML's wrapped shape
    ``{"prediction": <return value>, "uuid": ..., "model_deployment_crn": ...}``."""
    if getattr(fn, MARKER, False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        ctx = _ctx()
        pred = _Prediction(uuid=str(uuid.uuid4()), start_ms=_now_ms())
        token = _current.set(pred)
        try:
            result = fn(*args, **kwargs)
        finally:
            _current.reset(token)
        record = _record(ctx.deployment_crn, ctx.build_crn, ctx.model_crn, pred.uuid, pred.start_ms, _now_ms(),
                         pred.metrics)
        ctx.store.write(record)  # durable before the prediction (and its HTTP response) returns
        return {"prediction": result, "uuid": pred.uuid, "model_deployment_crn": ctx.deployment_crn}

    setattr(wrapper, MARKER, True)
    return wrapper  # type: ignore[return-value]


def track_metric(key: str, value: Any) -> None:
    """Record ``key: value`` on the current prediction. Outside a prediction this is an error in a replica; in
    local development mode the value is kept as a record of its own (dev CRNs, no prediction UUID)."""
    value = _check_json(key, value)
    pred = _current.get()
    if pred is not None:
        pred.metrics[key] = value
        return
    ctx = _ctx()
    if ctx.replica:
        raise MetricsError("track_metric called outside a @model_metrics prediction: decorate the predict function "
                           "with @cdsw.model_metrics (or call it from inside the decorated function)")
    now = _now_ms()
    ctx.store.write(_record(ctx.deployment_crn, ctx.build_crn, ctx.model_crn, None, now, now, {key: value}))


def _is_dev(*crns: str | None) -> bool:
    given = [c for c in crns if c]
    if not given:
        return not _in_replica() and not _get_settings().api_key
    return all(c in (dev_model_crn, dev_model_build_crn, dev_model_deployment_crn) for c in given)


def _local_has_store() -> bool:
    """Local dev records exist (the dev store was used in this process or its file exists)."""
    if _context is not None and not _context.replica:
        return True
    url = _get_settings().metrics_url
    return url.startswith("sqlite:///") and Path(url[len("sqlite:///"):]).exists()


def _in_replica() -> bool:
    return _context is not None and _context.replica


def _local_ref(ref: str | None, kind: str) -> str | None:
    """CML's bare ``/<id>`` form resolved against this process's own CRNs (a replica's deployment, build and model;
    outside a replica the dev ones); anything else as given. Outside a replica an unresolved ``/<id>`` goes to the
    platform as is, which knows every deployment; a replica has only its own."""
    if not ref or bare_id(ref) is None:
        return ref
    if _in_replica():
        ctx = _ctx()
        own = {"deployment": ctx.deployment_crn, "build": ctx.build_crn, "model": ctx.model_crn}[kind]
    else:
        own = {"deployment": dev_model_deployment_crn, "build": dev_model_build_crn, "model": dev_model_crn}[kind]
    crn = resolve_ref(ref, [own] if own else [])
    if crn is None and _in_replica():
        raise MetricsError(f"{ref} is not this replica's {kind} ({own}); give the full CRN")
    return crn or ref


def read_metrics(model_deployment_crn: str | None = None, start_timestamp_ms: int | None = None,
                 end_timestamp_ms: int | None = None, model_crn: str | None = None,
                 model_build_crn: str | None = None) -> dict[str, Any]:
    """``{"metrics": [{modelDeploymentCrn, modelBuildCrn, modelCrn, startTimeStampMs, endTimeStampMs,
    predictionUuid, metrics}]}`` for records starting in [start, end) (start defaults to 0, end to now).

    No end means "up to now" without an upper bound (the store's ``end_ms=None``): an end of exactly now would leave
    out a record written in the current millisecond, e.g. by a prediction made just before the read."""
    start = 0 if start_timestamp_ms is None else int(start_timestamp_ms)
    end = None if end_timestamp_ms is None else int(end_timestamp_ms)
    if not (model_deployment_crn or model_crn or model_build_crn):
        if _is_dev():
            model_deployment_crn = dev_model_deployment_crn
        else:
            raise MetricsError("read_metrics needs model_deployment_crn, model_crn or model_build_crn")
    for c in (model_deployment_crn, model_crn, model_build_crn):
        if c and not is_crn_ref(c):
            raise MetricsError(f"not a CRN: {c!r} (expected crn:cdp:ml:<region>:<account>:workspace:<ws>/<id>, "
                               "or CML's short form /<id>)")
    model_deployment_crn = _local_ref(model_deployment_crn, "deployment")
    model_crn = _local_ref(model_crn, "model")
    model_build_crn = _local_ref(model_build_crn, "build")
    if _is_dev(model_deployment_crn, model_crn, model_build_crn) or _in_replica():
        records = _ctx().store.read(model_deployment_crn=model_deployment_crn, model_crn=model_crn,
                                    model_build_crn=model_build_crn, start_ms=start, end_ms=end)
        return {"metrics": [r.to_cml() for r in records]}
    params = {k: v for k, v in (("model_deployment_crn", model_deployment_crn), ("model_crn", model_crn),
                                ("model_build_crn", model_build_crn), ("start_timestamp_ms", start),
                                ("end_timestamp_ms", end)) if v is not None}
    return _platform("GET", "/api/v1/metrics", params=params)  # type: ignore[no-any-return]


def track_delayed_metrics(metrics: dict[str, Any], prediction_uuid: str) -> None:
    """Merge ``metrics`` into an earlier prediction's record (e.g. ground truth known later)."""
    if not isinstance(metrics, dict) or not metrics:
        raise MetricsError("track_delayed_metrics needs a non-empty dict of metrics")
    for k, v in metrics.items():
        _check_json(k, v)
    if not isinstance(prediction_uuid, str) or not prediction_uuid:
        raise MetricsError("track_delayed_metrics needs the prediction's UUID")
    if _in_replica() or _is_dev() or _local_has_store():
        try:
            _ctx().store.merge_delayed(prediction_uuid, metrics)
            return
        except StoreUnknownPrediction as e:
            # Outside a replica a UUID not in the local (dev) store may be a real deployment's: ask the platform.
            if _in_replica() or _is_dev():
                raise UnknownPrediction(f"no prediction with UUID {prediction_uuid}") from e
    _platform("POST", "/api/v1/metrics/delayed", body={"metrics": metrics, "prediction_uuid": prediction_uuid})


def track_aggregate_metrics(metrics: dict[str, Any], start_timestamp_ms: int, end_timestamp_ms: int,
                            model_deployment_crn: str | None = None) -> None:
    """Record metrics about a time window of a deployment (e.g. a drift statistic)."""
    if not isinstance(metrics, dict) or not metrics:
        raise MetricsError("track_aggregate_metrics needs a non-empty dict of metrics")
    for k, v in metrics.items():
        _check_json(k, v)
    start, end = int(start_timestamp_ms), int(end_timestamp_ms)
    if end < start:
        raise MetricsError(f"end_timestamp_ms ({end}) is before start_timestamp_ms ({start})")
    if model_deployment_crn is None:
        model_deployment_crn = _ctx().deployment_crn if (_in_replica() or _is_dev()) else None
        if model_deployment_crn is None:
            raise MetricsError("track_aggregate_metrics needs model_deployment_crn outside a replica")
    elif not is_crn_ref(model_deployment_crn):
        raise MetricsError(f"not a CRN: {model_deployment_crn!r}")
    model_deployment_crn = _local_ref(model_deployment_crn, "deployment")
    assert model_deployment_crn is not None
    if _is_dev(model_deployment_crn) or (_in_replica() and model_deployment_crn == _ctx().deployment_crn):
        ctx = _ctx()
        ctx.store.write_aggregate(model_deployment_crn, start, end, metrics, model_build_crn=ctx.build_crn,
                                  model_crn=ctx.model_crn)
        return
    _platform("POST", "/api/v1/metrics/aggregate", body={
        "metrics": metrics, "start_timestamp_ms": start, "end_timestamp_ms": end,
        "model_deployment_crn": model_deployment_crn})


def call_model(model_access_key: str, ipt: Any, api_key: str | None = None) -> Any:
    """Call a deployed model through the platform's model endpoint; returns the parsed JSON response."""
    return _platform("POST", "/model", body={"accessKey": model_access_key, "request": ipt}, api_key=api_key,
                     raise_for_status=False)


def _platform(method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
              api_key: str | None = None, raise_for_status: bool = True) -> Any:
    settings = _get_settings()
    url = settings.platform_url.rstrip("/") + path
    key = api_key or settings.api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.request(method, url, params=params, json=body, headers=headers, timeout=60.0)
    except httpx.HTTPError as e:
        raise MetricsError(f"the platform at {url} is not reachable: {e}") from e
    try:
        data = resp.json()
    except ValueError:
        data = {"message": resp.text[:300]}
    if raise_for_status and resp.status_code >= 400:
        message = data.get("message") if isinstance(data, dict) else str(data)
        if resp.status_code == 404 and isinstance(data, dict) and data.get("code") == "unknown_prediction":
            raise UnknownPrediction(message)
        raise MetricsError(f"{method} {path} failed with HTTP {resp.status_code}: {message}")
    return data
