"""catalog.access: what each role may do in and out of its projects, and where projects may live."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import Forbidden, InvalidInput, Principal, ProjectRef, administrator, project_path

ALPHA = ProjectRef(crn="crn:alpha", name="alpha")
BETA = ProjectRef(crn="crn:beta", name="beta")


@pytest.mark.parametrize(("principal", "action", "project", "deployment", "allowed"), [
    (administrator("t"), "admin", None, None, True),
    (administrator("t"), "deploy", BETA, None, True),
    (Principal("k", "deployer", frozenset({"alpha"})), "deploy", ALPHA, None, True),
    (Principal("k", "deployer", frozenset({"crn:alpha"})), "deploy", ALPHA, None, True),  # by CRN
    (Principal("k", "deployer", frozenset({"alpha"})), "deploy", BETA, None, False),
    (Principal("k", "deployer", frozenset({"alpha"})), "admin", ALPHA, None, False),
    (Principal("k", "deployer", frozenset({"*"})), "deploy", BETA, None, True),
    (Principal("k", "deployer", frozenset({"alpha"})), "read", None, None, False),  # no project: admins only
    (Principal("k", "viewer", frozenset({"alpha"})), "read", ALPHA, None, True),
    (Principal("k", "viewer", frozenset({"alpha"})), "call", ALPHA, None, False),
    (Principal("k", "viewer", frozenset({"*"})), "deploy", ALPHA, None, False),
    (Principal("k", "caller", deployments=frozenset({"d1"})), "call", BETA, "d1", True),
    (Principal("k", "caller", deployments=frozenset({"d1"})), "call", BETA, "d2", False),
    (Principal("k", "caller", frozenset({"alpha"})), "call", ALPHA, "d9", True),
    (Principal("k", "caller", frozenset({"alpha"})), "read", ALPHA, None, False),
])
def test_may(principal: Principal, action: str, project: ProjectRef | None, deployment: str | None,
             allowed: bool) -> None:
    assert principal.may(action, project, deployment=deployment) is allowed  # type: ignore[arg-type]
    if not allowed:
        with pytest.raises(Forbidden):
            principal.require(action, project, deployment=deployment)  # type: ignore[arg-type]


def test_refusals_say_why() -> None:
    with pytest.raises(Forbidden, match="projects do not include project beta"):
        Principal("k", "deployer", frozenset({"alpha"})).require("deploy", BETA)
    with pytest.raises(Forbidden, match="a viewer key may not deploy or change"):
        Principal("k", "viewer", frozenset({"alpha"})).require("deploy", ALPHA)
    with pytest.raises(Forbidden, match="needs an administrative key"):
        Principal("k", "deployer", frozenset({"*"})).require("admin")


def test_projects_live_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "wine").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    assert project_path(root, "wine") == (root / "wine").resolve()
    assert project_path(root, str(root / "wine")) == (root / "wine").resolve()
    for given in ("..", "../outside", str(tmp_path / "outside"), "wine/../../outside", "/etc"):
        with pytest.raises(InvalidInput, match="not under the projects root"):
            project_path(root, given)
    (root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidInput, match="not under the projects root"):
        project_path(root, "link")
    demo = tmp_path / "store" / "demo"
    demo.mkdir(parents=True)
    assert project_path(root, str(demo), [demo]) == demo.resolve()  # the platform's own projects
    with pytest.raises(InvalidInput, match="file system's root"):
        project_path(Path("/"), "etc")
