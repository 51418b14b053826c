"""``mlcatalog monitor`` refuses bad input with one line and exit status 2 before asking the platform anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlcatalog.cli import app

CRN = "crn:cdp:ml:local:acct:workspace:ws/d1"


@pytest.mark.parametrize(("args", "message"), [
    (["--every", "5x"], "bad --every '5x'"),
    (["--every", "30m", "--window", "0m"], "bad --window '0m'"),
    (["--every", "30m", "--reference-window", "10..5"], "not after the start"),
    (["--every", "30m", "--expected", "Excellent"], "bad --expected 'Excellent': use NAME=VALUE"),
    (["--every", "30m", "--map", "Alcohol"], "bad --map 'Alcohol'"),
    (["--every", "30m", "--threshold", "ks=2"], "bad --threshold"),
    (["--every", "30m", "--threshold", "magic=0.1"], "bad --threshold magic"),
    (["--every", "30m", "--numeric-test", "t"], "bad --numeric-test 't'"),
])
def test_bad_options(args: list[str], message: str) -> None:
    # an unroutable URL: reaching it would be a different error than the one expected
    r = CliRunner().invoke(app, ["monitor", "add", CRN, *args, "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlcatalog: error: ") and message in lines[0], r.output


def test_a_platform_that_is_not_running_is_one_line() -> None:
    r = CliRunner().invoke(app, ["monitor", "list", "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 1 and "is not reachable" in r.output and len(r.output.strip().splitlines()) == 1
