"""MetricRecord: the boundary checks and CML's read_metrics record shape."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest
from pydantic import ValidationError

from serving.metrics import MetricRecord, redact_url, sqlite_url, upgrade_command
from serving.metrics.urls import parse_sqlite_url

DEP = "crn:cdp:ml:us-west-1:558bc1d2-0000:workspace:d09086fa-0000/ee50a723-aed8-46ee-a96f-c97d8e211428"


def record(**overrides: Any) -> MetricRecord:
    fields: dict[str, Any] = dict(model_deployment_crn=DEP, model_build_crn=DEP + "-b", model_crn=DEP + "-m",
                                  prediction_uuid="e58969ea-73b2-4e37-953d-1b7e36a6a43b",
                                  start_ms=1746629493901, end_ms=1746629493936, metrics={"prediction": [2]})
    fields.update(overrides)
    return MetricRecord(**fields)


def test_to_cml_is_the_sdk_record_shape() -> None:
    assert record().to_cml() == {
        "modelDeploymentCrn": DEP,
        "modelBuildCrn": DEP + "-b",
        "modelCrn": DEP + "-m",
        "startTimeStampMs": 1746629493901,
        "endTimeStampMs": 1746629493936,
        "predictionUuid": "e58969ea-73b2-4e37-953d-1b7e36a6a43b",
        "metrics": {"prediction": [2]},
    }
    assert list(record().to_cml()) == ["modelDeploymentCrn", "modelBuildCrn", "modelCrn", "startTimeStampMs",
                                       "endTimeStampMs", "predictionUuid", "metrics"]


def test_aggregate_has_null_prediction_uuid_and_round_trips_through_cml_shape() -> None:
    agg = record(prediction_uuid=None, model_build_crn=None, model_crn=None, metrics={"chisq_x2": 1.5})
    assert agg.is_aggregate
    assert agg.to_cml()["predictionUuid"] is None
    assert MetricRecord.from_cml(agg.to_cml()) == agg


@pytest.mark.parametrize("value, message", [
    (math.nan, "not a JSON number"),
    (math.inf, "not a JSON number"),
    ("a\x00b", "NUL"),
    ("\udc80", "not valid Unicode"),
    (2**64, "64 bits"),
    ({1: "x"}, "not a string"),
    ({"a", "b"}, "set is not a JSON value"),
    (object(), "not a JSON value"),
    ([1, [2, math.nan]], r"metrics\.k\[1\]\[1\]"),
])
def test_values_that_cannot_be_stored_are_refused_naming_the_key(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        record(metrics={"k": value})


def test_numpy_values_and_enums_become_plain_json() -> None:
    np = pytest.importorskip("numpy")  # not a project dependency; model code often hands its values over

    class Quality(enum.StrEnum):
        POOR = "Poor"

    class Level(enum.IntEnum):
        HIGH = 3

    class Legacy(str, enum.Enum):  # noqa: UP042 - the older spelling: str() gives "Legacy.GOOD", value "good"
        GOOD = "good"

    rec = record(metrics={"prediction": np.array([0]), "proba": np.float64(0.25), "n": np.int64(7),
                          "ok": np.bool_(True), "q": Quality.POOR, "l": Level.HIGH, "g": Legacy.GOOD, "t": (1, 2)})
    assert rec.metrics == {"prediction": [0], "proba": 0.25, "n": 7, "ok": True, "q": "Poor", "l": 3, "g": "good",
                           "t": [1, 2]}
    assert [type(v) for v in rec.metrics.values()] == [list, float, int, bool, str, int, str, list]


@pytest.mark.parametrize("overrides", [
    {"start_ms": 10, "end_ms": 9},
    {"start_ms": -1},
    {"start_ms": 1.5},
    {"start_ms": True},
    {"start_ms": "1"},
    {"model_deployment_crn": ""},
    {"prediction_uuid": ""},
    {"metrics": [1, 2]},
    {"unknown": 1},
])
def test_bad_record_fields_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        record(**overrides)


def test_sqlite_url_forms() -> None:
    assert parse_sqlite_url("sqlite:///abs/path.db") == parse_sqlite_url("sqlite:////abs/path.db")
    assert str(parse_sqlite_url("sqlite:///abs/path.db")[0]) == "/abs/path.db"
    assert parse_sqlite_url("sqlite:///abs/path.db")[1] == "normal"
    assert parse_sqlite_url("sqlite:///abs/path.db?synchronous=FULL")[1] == "full"
    assert parse_sqlite_url(sqlite_url("/tmp/a b#c.db"))[0].name == "a b#c.db"


def test_redacted_urls_and_upgrade_command_never_carry_the_password() -> None:
    url = "postgresql://metrics:s3cret@db.example:5432/metrics?sslmode=require&password=other"
    assert redact_url(url) == "postgresql://metrics@db.example:5432/metrics?sslmode=require"
    assert upgrade_command(url) == (
        "mlcatalog metrics-db upgrade 'postgresql://metrics@db.example:5432/metrics?sslmode=require'")
    assert "s3cret" not in upgrade_command(url) and "other" not in upgrade_command(url)


def test_trusted_records_behave_like_validated_ones() -> None:
    from serving.metrics.models import trusted_record

    validated = record()
    trusted = trusted_record(dict(validated.__dict__))
    assert trusted == validated and trusted.to_cml() == validated.to_cml()
    assert trusted.model_dump() == validated.model_dump() and repr(trusted) == repr(validated)
    assert trusted.model_copy(update={"start_ms": 5}).start_ms == 5
    with pytest.raises(ValidationError):
        trusted.start_ms = 7  # still frozen
