"""``mlcatalog up --demo --once``: the seed's story end to end on the embedded default, then reused on a rerun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow


def up(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    return subprocess.run([sys.executable, "-m", "mlcatalog", "up", "--store", str(store), "--port", str(free_port()),
                           *args], capture_output=True, text=True, timeout=600, env=env)


def test_the_demo_plays_the_seeds_story_and_reuses_it(tmp_path: Path) -> None:
    first = up(tmp_path / "store", "--demo", "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "demo: trained the wine classifier" in out and "demo: building and deploying the model on 2 replicas" in out
    windows = [line for line in out.splitlines() if line.startswith("demo: window of 300 predictions")]
    assert len(windows) == 3
    assert "drift drifting" not in windows[0] and "drift drifting" not in windows[2]
    assert "drift drifting" in windows[1] and "prediction" in windows[1] and "accuracy 0." in windows[1]
    [lineage] = [line for line in out.splitlines() if line.startswith("demo: lineage ")]
    layers = lineage.removeprefix("demo: lineage ").split(" <- ")
    assert layers[0] == "ml_model_deployment" and layers[-1] == "aws_s3_v2_directory"
    assert layers.index("ml_model_build") < layers.index("hive_table/ml_project") < layers.index("hive_process")
    # the seed's INSERT ... SELECT: wineds_ext is upstream of wineds_ext_nolabel, behind a process of its own
    assert layers[layers.index("hive_process") + 1] == "aws_s3_v2_directory/hive_table"
    again = up(tmp_path / "store", "--demo", "--once")
    assert again.returncode == 0, again.stderr
    assert "demo: reusing deployment" in again.stdout and "trained" not in again.stdout


def test_once_goes_with_demo(tmp_path: Path) -> None:
    r = up(tmp_path / "store", "--once")
    assert r.returncode == 2 and "--once goes with --demo" in r.stderr


def test_without_the_demo_extra_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcatalog.demo import demo_missing

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    assert demo_missing() == "the demo needs scikit-learn: pip install 'mlcatalog[demo]'"
