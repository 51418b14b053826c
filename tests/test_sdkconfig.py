"""The metrics SDK outside a replica (``import cdsw``) follows mlcatalog's settings: environment, then the config
file, as the ``mlcatalog`` command does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.serving.conftest import REPO

SCRIPT = """
import json, cdsw

@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("x", args["x"])
    return args["x"] * 2

out = predict({"x": 21})
print(json.dumps({"out": out, "read": cdsw.read_metrics()["metrics"]}))
"""


def run(cwd: Path, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**clean, "PYTHONPATH": str(REPO), **env})
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_dev_mode_keeps_records_where_the_config_file_says(tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere" / "custom-metrics.db"
    custom.parent.mkdir()
    (tmp_path / "mlcatalog.toml").write_text(f'[serving]\nmetrics_url = "sqlite:///{custom}"\n')
    res = run(tmp_path)
    assert custom.exists(), "[serving] metrics_url of mlcatalog.toml is the dev store"
    assert not (tmp_path / ".mlcatalog").exists()
    assert [r["metrics"] for r in res["read"]] == [{"x": 21}]


def test_the_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "mlcatalog.toml").write_text(f'[serving]\nmetrics_url = "sqlite:///{tmp_path / "file.db"}"\n')
    run(tmp_path, MLCATALOG_METRICS_URL=f"sqlite:///{tmp_path / 'env.db'}")
    assert (tmp_path / "env.db").exists() and not (tmp_path / "file.db").exists()


def test_a_broken_config_file_is_a_clear_sdk_error(tmp_path: Path) -> None:
    (tmp_path / "mlcatalog.toml").write_text("[serving]\nmetrics_url = 42\n")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")},
                               "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("serving.sdk.MetricsError: cannot read mlcatalog's settings")
    assert "serving.metrics_url" in last and "mlcatalog.toml" in last
