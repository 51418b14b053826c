"""docker/Dockerfile installs the package as the README's first line does, with every runtime extra, copies every
package pyproject.toml names, and runs as a non-root user with a health check."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

import pytest

from tests.docker.mlcatalog_vars import DOCKER, ROOT, read_variables

EXTRAS = re.compile(r"^\.\[([a-z0-9_,-]*)\]$")
TEST_EXTRAS = {"test"}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _pip_install(command: str) -> tuple[list[str], str]:
    """``pip install [options] SPEC`` within a shell command: its options and the one package spec."""
    words = shlex.split(command.split("&&")[0])
    assert words[:2] == ["pip", "install"], command
    options = [w for w in words[2:] if w.startswith("-")]
    (spec,) = [w for w in words[2:] if not w.startswith("-")]
    return options, spec


def _extras(spec: str) -> set[str]:
    match = EXTRAS.match(spec)
    assert match, f"{spec!r} is not the package with extras"
    return set(filter(None, match.group(1).split(",")))


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _readme_install() -> str:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1]
    return first_block.splitlines()[0]


def test_install_is_the_readmes_with_every_runtime_extra(pyproject: dict[str, Any]) -> None:
    (run,) = [args for keyword, args in _instructions() if keyword == "RUN" and "pip install" in args]
    options, spec = _pip_install(run)
    _, readme_spec = _pip_install(_readme_install())
    assert options == ["--no-cache-dir"]  # nothing else changes what is installed
    assert _extras(readme_spec) <= _extras(spec)
    runtime = set(pyproject["project"]["optional-dependencies"]) - TEST_EXTRAS
    assert _extras(spec) == runtime


def test_every_package_is_copied(pyproject: dict[str, Any]) -> None:
    copied = {args.split()[-1].removeprefix("./") for keyword, args in _instructions() if keyword == "COPY"}
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.removesuffix("*") in copied
    assert {"pyproject.toml", "README.md"} <= {w for k, a in _instructions() if k == "COPY" for w in a.split()}


def test_runs_as_a_non_root_user_with_a_health_check() -> None:
    instructions = _instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    (health,) = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
    script = json.loads(health.split("CMD", 1)[1])[-1]  # the exec form: a JSON array
    assert "docker/healthcheck.py" in copied and script.endswith("/healthcheck.py")


def test_image_environment_is_variables_mlcatalog_reads() -> None:
    names = {word.split("=", 1)[0] for keyword, args in _instructions() if keyword == "ENV" for word in args.split()}
    ours = {name for name in names if name.startswith("MLCATALOG_")}
    assert "MLCATALOG_HOST" in ours  # reachable from outside the container
    assert sorted(ours - read_variables()) == []
