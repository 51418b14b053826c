"""Parsing of the monitor command's durations, windows, pairs and expected shares; the config's checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.monitoring.config import (
    MonitorConfig,
    format_duration,
    parse_duration,
    parse_expected,
    parse_instant,
    parse_pairs,
    parse_window,
)


@pytest.mark.parametrize(("text", "ms"), [("30m", 1_800_000), ("2h", 7_200_000), ("1d", 86_400_000),
                                          ("45s", 45_000), ("1w", 604_800_000), ("500ms", 500), (" 5 m ", 300_000)])
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "30", "m", "0m", "-5m", "1.5h", "30 minutes", "5y"])
def test_bad_durations_say_how(text: str) -> None:
    with pytest.raises(ValueError, match=r"bad --every .*e\.g\. 30m"):
        parse_duration(text, "--every")


def test_format_duration_round_trips() -> None:
    for text in ("30m", "2h", "1d", "45s", "1w", "1500ms"):
        assert format_duration(parse_duration(text)) == text


def test_windows_in_iso_and_epoch_ms() -> None:
    assert parse_window("1000..2000") == (1000, 2000)
    assert parse_window("2026-12-01T10:00:00Z..2026-12-01T10:30:00Z") == (1_796_119_200_000, 1_796_121_000_000)
    assert parse_instant("2026-12-01T10:00:00+01:00") == 1_796_115_600_000
    assert parse_instant("2026-12-01T10:00:00") == 1_796_119_200_000  # no offset: UTC


@pytest.mark.parametrize(("text", "message"), [("1000", "use START..END"), ("2000..1000", "not after"),
                                               ("..1000", "use START..END"), ("yesterday..today", "bad time")])
def test_bad_windows(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


def test_pairs_and_expected() -> None:
    assert parse_pairs(["Alcohol=alcohol", "pH=ph,prediction=quality"], "--map") == {
        "Alcohol": "alcohol", "pH": "ph", "prediction": "quality"}
    assert parse_expected(["Excellent=0.5,Poor=0.5"]) == {"Excellent": 0.5, "Poor": 0.5}
    assert parse_expected(["Excellent=3", "Poor=1"]) == {"Excellent": 0.75, "Poor": 0.25}
    with pytest.raises(ValueError, match="use NAME=VALUE"):
        parse_pairs(["Alcohol"], "--map")
    with pytest.raises(ValueError, match="not a number"):
        parse_expected(["Excellent=lots"])
    with pytest.raises(ValueError, match="positive"):
        parse_expected(["Excellent=0,Poor=1"])


def test_config_checks() -> None:
    c = MonitorConfig(every_ms=1_800_000, window_ms=1_800_000)
    assert (c.numeric_test, c.thresholds.wasserstein, c.thresholds.chisquare, c.min_n) == ("auto", 0.1,
                                                                                           0.05, 30)
    with pytest.raises(ValidationError, match="must differ"):
        MonitorConfig(every_ms=60_000, window_ms=60_000, prediction_key="x", actual_key="x")
    with pytest.raises(ValidationError):
        MonitorConfig(every_ms=10, window_ms=60_000)
