"""The one record type of the metrics store, and its CML ``read_metrics`` wire shape.

A record is either a prediction (``prediction_uuid`` set, written by ``@model_metrics``) or an aggregate
(``prediction_uuid`` None, written by ``track_aggregate_metrics``). ``metrics`` holds JSON values only, checked
here at the boundary so that both backends store exactly the same things: SQLite would accept NaN or a NUL
character that PostgreSQL's JSONB rejects, and a 100-digit int that orjson cannot encode. Values nest at most
:data:`MAX_NESTING` lists/objects deep: orjson encodes no deeper than 254, and a record stored deeper than its
readers can encode (inside their own envelopes) would fail every later read of its window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

MAX_MS = 2**63 - 1  # PostgreSQL bigint
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # what orjson and every JSON consumer in the chain agree on
#: Lists/objects a metric value may nest (the metrics object itself not counted): far beyond any real metric, far
#: below orjson's 254 and the interpreter's recursion limit, with room for the envelopes readers wrap records in.
MAX_NESTING = 64

EpochMs = Annotated[int, Field(strict=True, ge=0, le=MAX_MS)]
CrnText = Annotated[str, Field(min_length=1, max_length=1024)]
# Rows read back from our own database were checked when written; re-walking them would double read cost.
_TRUSTED_KEY = "mlcatalog.metrics.trusted"
TRUSTED: dict[str, Any] = {_TRUSTED_KEY: True}


class MetricRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model_deployment_crn: CrnText
    model_build_crn: CrnText | None = None
    model_crn: CrnText | None = None
    prediction_uuid: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    start_ms: EpochMs
    end_ms: EpochMs
    metrics: dict[str, Any]

    @field_validator("metrics")
    @classmethod
    def _json_only(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if isinstance(info.context, dict) and info.context.get(_TRUSTED_KEY):
            return value
        return normalize_metrics(value)

    @model_validator(mode="after")
    def _window(self) -> MetricRecord:
        if self.end_ms < self.start_ms:
            raise ValueError(f"end_ms ({self.end_ms}) is before start_ms ({self.start_ms})")
        return self

    @property
    def is_aggregate(self) -> bool:
        return self.prediction_uuid is None

    def to_cml(self) -> dict[str, Any]:
        """CML's ``read_metrics`` record shape (keys and order as in the SDK's output)."""
        return {
            "modelDeploymentCrn": self.model_deployment_crn,
            "modelBuildCrn": self.model_build_crn,
            "modelCrn": self.model_crn,
            "startTimeStampMs": self.start_ms,
            "endTimeStampMs": self.end_ms,
            "predictionUuid": self.prediction_uuid,
            "metrics": self.metrics,
        }

    @classmethod
    def from_cml(cls, data: Mapping[str, Any]) -> MetricRecord:
        return cls(
            model_deployment_crn=data["modelDeploymentCrn"],
            model_build_crn=data.get("modelBuildCrn"),
            model_crn=data.get("modelCrn"),
            prediction_uuid=data.get("predictionUuid"),
            start_ms=data["startTimeStampMs"],
            end_ms=data["endTimeStampMs"],
            metrics=data["metrics"],
        )


def normalize_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A plain-JSON copy of ``metrics``; ValueError naming the offending key if a value cannot be stored."""
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics must be a JSON object, not {type(metrics).__name__}")
    return {_check_key(k, "metrics"): _normalize(v, f"metrics.{k}", MAX_NESTING) for k, v in metrics.items()}


def normalize_metric(key: Any, value: Any) -> Any:
    """One metric's value as stored (``normalize_metrics({key: value})[key]`` without the dicts)."""
    return _normalize(value, f"metrics.{_check_key(key, 'metrics')}", MAX_NESTING)


def encode_metrics(metrics: Mapping[str, Any]) -> str:
    """JSON text of already-normalized metrics (what both backends store)."""
    return orjson.dumps(metrics).decode()


def decode_metrics(text: str | bytes) -> dict[str, Any]:
    value = orjson.loads(text)
    assert isinstance(value, dict)
    return value


def _normalize(value: Any, path: str, levels: int) -> Any:
    """``levels``: how many more lists/objects may open below this value."""
    kind = type(value)
    if kind is str:
        return _check_str(value, path)
    if kind is bool or value is None:
        return value
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            # bit_length, not the digits: str() of a huge int is slow, and refused past 4300 digits
            raise ValueError(f"{path}: an integer of {value.bit_length()} bits does not fit in 64 bits")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, Mapping | list | tuple):
        if levels == 0:
            shown = path if len(path) <= 120 else path[:120] + "..."  # as long as the nesting is deep
            raise ValueError(f"{shown}: nested more than {MAX_NESTING} lists/objects deep")
        if isinstance(value, Mapping):
            return {_check_key(k, path): _normalize(v, f"{path}.{k}", levels - 1) for k, v in value.items()}
        return [_normalize(v, f"{path}[{i}]", levels - 1) for i, v in enumerate(value)]
    # Subclasses (IntEnum, str enums) and numpy scalars/arrays (which have tolist()) come from model code often
    # enough that refusing them would push the same conversion into every predict function.
    if isinstance(value, int):
        return _normalize(int(value), path, levels)
    if isinstance(value, float):
        return _normalize(float(value), path, levels)
    if isinstance(value, str):  # str.__str__: the characters, not a (str, Enum) member's "Class.NAME"
        return _check_str(str.__str__(value), path)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _normalize(tolist(), path, levels)
    raise ValueError(f"{path}: {kind.__name__} is not a JSON value (str, number, bool, None, list or dict)")


def _check_key(key: Any, path: str) -> str:
    if type(key) is not str:
        raise ValueError(f"{path}: key {key!r} is not a string")
    return _check_str(key, f"{path} key")


def _check_str(text: str, path: str) -> str:
    # PostgreSQL text (and so JSONB) cannot hold NUL; lone surrogates are not encodable as UTF-8 at all.
    if "\x00" in text:
        raise ValueError(f"{path}: strings may not contain NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path}: not valid Unicode text ({exc.reason})") from None
    return text


_FIELDS = tuple(MetricRecord.model_fields)
_new, _set = object.__new__, object.__setattr__


def _trusted_fast(fields: dict[str, Any]) -> MetricRecord:
    # What model_construct() does for a complete set of fields, without its per-call generality: reads turn
    # thousands of rows into records, and this is 2-3x cheaper than model_validate (checked at import below).
    record: MetricRecord = _new(MetricRecord)
    _set(record, "__dict__", fields)
    _set(record, "__pydantic_fields_set__", set(_FIELDS))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def _trusted_validate(fields: dict[str, Any]) -> MetricRecord:
    return MetricRecord.model_validate(fields, context=TRUSTED)


def _pick_trusted() -> Callable[[dict[str, Any]], MetricRecord]:
    sample: dict[str, Any] = {"model_deployment_crn": "crn:a", "model_build_crn": None, "model_crn": "crn:c",
                              "prediction_uuid": "u", "start_ms": 1, "end_ms": 2, "metrics": {"k": [1]}}
    try:
        fast = _trusted_fast(dict(sample))
        if fast == MetricRecord(**sample) and fast.model_dump() == sample and list(fast.__dict__) == list(_FIELDS):
            return _trusted_fast
    except Exception:  # noqa: BLE001 - a pydantic whose model internals differ: stay correct, just slower
        pass
    return _trusted_validate


trusted_record = _pick_trusted()
"""``trusted_record(fields)``: a MetricRecord from a complete dict of values this store validated when it wrote
them (fields in declaration order). Not for data from outside."""
