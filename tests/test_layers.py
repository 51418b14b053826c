"""Imports point down: mlcatalog (composition root) > serving > catalog; an AST walk over every module.

* ``catalog`` never imports ``serving``, ``mlcatalog`` or ``cdsw``;
* ``serving`` imports nothing of ``mlcatalog``/``cdsw``, and of ``catalog`` only ``from catalog import NAME`` with
  NAME in ``catalog.__all__`` (its public surface);
* example model projects (``serving/examples``) are user code: only ``cdsw``;
* ``catalog/embedded`` (the Atlas-compatible store) knows nothing of ML: it imports only itself and generic
  plumbing; ``catalog/lineagefile`` (pure parsing) only itself; ``typedefs`` (data) nothing of ours.

Lazy imports inside functions count as much as the ones at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import catalog

REPO = Path(__file__).resolve().parents[1]
OURS = ("catalog", "serving", "mlcatalog", "cdsw", "typedefs")


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module, dotted
    names: tuple[str, ...]  # for `from target import names`; () for `import target`
    line: int

    def __str__(self) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else f"import {self.target}"
        return f"{self.module}:{self.line}: {what}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    module = module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, target] if target else base)
            yield Import(module, target, tuple(a.name for a in node.names), node.lineno)


def violation(imp: Import, public_catalog: set[str]) -> str | None:
    top = imp.target.split(".")[0]
    if top not in OURS:
        return None
    layer = imp.module.split(".")[0]

    def within(*prefixes: str) -> bool:
        return any(imp.target == p or imp.target.startswith(p + ".") for p in prefixes)

    if imp.module.startswith("serving.examples"):
        # Example model projects are user code: they see only ``cdsw`` of ours, as in a replica.
        return None if within("cdsw", "serving.examples") else "an example model project imports only cdsw of ours"
    if imp.module.startswith("catalog.embedded") and not within("catalog.embedded", "catalog.sqlite_migrations"):
        return "the embedded Atlas store imports only itself (it knows nothing of ML)"
    if imp.module.startswith("catalog.lineagefile") and not within("catalog.lineagefile"):
        return "lineage file parsing is pure: it imports only itself"
    if layer == "typedefs":
        return "typedefs is data: it imports nothing of mlcatalog"
    if layer == "catalog" and top in ("serving", "mlcatalog", "cdsw"):
        return "catalog never imports the serving platform or the composition root"
    if layer == "serving":
        if top in ("mlcatalog", "cdsw"):
            return "serving never imports the composition root"
        if top == "catalog":
            if imp.target != "catalog" or not imp.names:
                return "serving imports catalog's public surface only: `from catalog import NAME`"
            private = [n for n in imp.names if n not in public_catalog]
            if private:
                return f"not in catalog.__all__: {', '.join(private)}"
    return None


def violations(root: Path, public_catalog: set[str]) -> list[str]:
    out = []
    for top in OURS:
        for path in sorted((root / top).rglob("*.py")):
            for imp in imports_of(root, path):
                why = violation(imp, public_catalog)
                if why:
                    out.append(f"{imp}  <- {why}")
    return out


def test_imports_point_down() -> None:
    assert violations(REPO, set(catalog.__all__)) == []


@pytest.mark.parametrize(("file", "source", "why"), [
    ("catalog/sync/x.py", "from serving.platform import outbox\n", "never imports the serving platform"),
    ("catalog/x.py", "def f():\n    import mlcatalog.app\n", "never imports the serving platform or the composition"),
    ("serving/x.py", "from catalog.sync.engine import Catalog\n", "public surface only"),
    ("serving/x.py", "import catalog\n", "public surface only"),
    ("serving/x.py", "from catalog import Catalog\n", "not in catalog.__all__: Catalog"),
    ("serving/x.py", "from mlcatalog.settings import Settings\n", "never imports the composition root"),
    ("catalog/embedded/x.py", "from catalog.sync import graph\n", "knows nothing of ML"),
    ("catalog/embedded/x.py", "from ..atlas import client\n", "knows nothing of ML"),
    ("catalog/lineagefile/x.py", "from catalog.errors import InvalidInput\n", "pure"),
    ("typedefs/x.py", "import catalog.crn\n", "data"),
    ("serving/examples/m/model.py", "from serving import sdk\n", "only cdsw"),
])
def test_the_check_catches_an_import_that_points_the_wrong_way(tmp_path: Path, file: str, source: str,
                                                                why: str) -> None:
    for top in OURS:
        (tmp_path / top).mkdir()
    path = tmp_path / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    found = violations(tmp_path, {"CatalogError", "InvalidInput"})
    assert len(found) == 1 and why in found[0], found


def test_allowed_imports_pass(tmp_path: Path) -> None:
    for top in OURS:
        (tmp_path / top).mkdir()
    (tmp_path / "serving" / "ok.py").write_text("from catalog import InvalidInput\nimport httpx\n")
    (tmp_path / "mlcatalog" / "ok.py").write_text("from catalog.sync.engine import Catalog\nimport serving.sdk\n")
    (tmp_path / "catalog" / "ok.py").write_text("from catalog.embedded.store import EmbeddedStore\n")
    (tmp_path / "serving" / "examples").mkdir()
    (tmp_path / "serving" / "examples" / "model.py").write_text("import cdsw\n")
    assert violations(tmp_path, {"InvalidInput"}) == []
