"""A build's own environment (serving/platform/buildenv.py), with the real uv and PyPI: two builds pinning
conflicting versions of one small library each see their own; an unchanged project reuses its environment; a
broken requirement fails cleanly with the log's tail and leaves nothing; cdsw-build.sh runs in the environment."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from serving import replica
from serving.platform.buildenv import BuildFailed, ensure_env, prune

pytestmark = pytest.mark.slow


def project(root: Path, requirements: str | None, script: str | None = None) -> Path:
    root.mkdir(parents=True)
    if requirements is not None:
        (root / "requirements.txt").write_text(requirements)
    if script is not None:
        (root / "cdsw-build.sh").write_text(script)
    return root


def run(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""  # e.g. no "Error processing line 1 of ...pth" from site.py
    return done.stdout.strip()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-envs")  # one cache for the module: uv's downloads are shared


def test_conflicting_pins_side_by_side_and_the_platform_underneath(cache: Path, tmp_path: Path) -> None:
    old = ensure_env(project(tmp_path / "a", "six==1.15.0\n"), cache)
    new = ensure_env(project(tmp_path / "b", "six==1.16.0\n"), cache)
    assert old.key != new.key and not old.reused
    assert run(old.python, "import six; print(six.__version__)") == "1.15.0"
    assert run(new.python, "import six; print(six.__version__)") == "1.16.0"
    assert old.packages["six"] == "1.15.0" and new.packages["six"] == "1.16.0"
    # the platform's own packages (and mlcatalog's SDK) are still importable from a build's environment
    # (this very mlcatalog: in a virtualenv runtime the base interpreter may have another one installed)
    assert run(old.python, "import cdsw, numpy, serving.replica; print(serving.replica.__file__)") == replica.__file__


def test_an_unchanged_project_reuses_its_environment(cache: Path, tmp_path: Path) -> None:
    p = project(tmp_path / "same", "six==1.13.0\n")
    t = time.monotonic()
    first = ensure_env(p, cache)
    t1 = time.monotonic() - t
    t = time.monotonic()
    again = ensure_env(p, cache)
    t2 = time.monotonic() - t
    assert again.reused and again.path == first.path
    print(f"\nenvironment: made in {t1:.2f}s, reused in {t2 * 1000:.0f} ms")
    same = ensure_env(project(tmp_path / "elsewhere", "six==1.13.0\n"), cache)
    assert same.reused and same.key == first.key  # the same requirements elsewhere: the same environment


def test_a_broken_requirement_fails_with_the_log_and_leaves_nothing(cache: Path, tmp_path: Path) -> None:
    p = project(tmp_path / "broken", "sklearn\n")  # the seed's cdsw-build.sh asks for this retired name
    with pytest.raises(BuildFailed) as failed:
        ensure_env(p, cache)
    message = str(failed.value)
    assert "installing requirements.txt failed" in message and "require 'scikit-learn' instead" in message
    assert [d.name for d in (cache / "envs").iterdir() if d.is_dir() and not (d / ".mlcatalog-env.json").exists()] == []
    assert "sklearn" in next((cache / "envs").glob("*.failed.log")).read_text()  # its whole log, kept for a look


def test_the_build_script_runs_in_the_environment_for_every_build(cache: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cret")  # the platform's credentials are not the build's
    script = "pip3 install --quiet six==1.14.0\necho built > built.txt\necho \"[$PGPASSWORD]\" >> built.txt\n"
    p = project(tmp_path / "scripted", None, script)
    env = ensure_env(p, cache)
    assert run(env.python, "import six; print(six.__version__)") == "1.14.0"
    assert (p / "built.txt").read_text() == "built\n[]\n"
    assert "$ bash cdsw-build.sh" in env.log.read_text() and str(tmp_path) not in env.log.read_text()
    # another build with the same script reuses the environment, and its script runs in that build's snapshot too
    again = project(tmp_path / "scripted-again", None, script)
    assert ensure_env(again, cache).reused and (again / "built.txt").exists()
    assert prune(cache, keep={env.key}, older_than_s=0) and env.path.exists()
