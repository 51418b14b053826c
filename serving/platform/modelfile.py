"""Static checks of a model file before any replica imports it: it parses, and it defines the function to serve.

Importing the file in the platform process would run the model's own code (loading the model, warm-up calls) there;
reading it with :mod:`ast` catches the common mistakes (a typo in ``--function``, a syntax error) as a one-line
error naming file:line, before a deployment is recorded. A module that may bind names in ways the parser cannot
follow (``from x import *``, ``globals()``/``setattr``/``exec``/``vars``, a walrus, a module ``__getattr__``) is
not judged: the replica reports a missing function when it starts.
"""

from __future__ import annotations

import ast
from pathlib import Path

from catalog import InvalidInput


def _bound_names(body: list[ast.stmt]) -> set[str] | None:
    """Names a module body binds at top level (in if/try/with/loop blocks too); None after ``import *``."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".", 1)[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor | ast.With
                        | ast.AsyncWith):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
                targets = [node.target]
            else:
                targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        if isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith | ast.Try
                      | ast.TryStar | ast.Match):
            blocks: list[list[ast.stmt]] = [getattr(node, attr) for attr in ("body", "orelse", "finalbody")
                                            if getattr(node, attr, None)]
            if isinstance(node, ast.Try | ast.TryStar):
                blocks += [h.body for h in node.handlers]
            if isinstance(node, ast.Match):
                blocks += [case.body for case in node.cases]
            for block in blocks:
                inner = _bound_names(block)
                if inner is None:
                    return None
                names |= inner
    return names


_DYNAMIC_CALLS = frozenset({"globals", "setattr", "exec", "vars", "eval", "__import__"})


def _binds_dynamically(tree: ast.Module) -> bool:
    """The module may bind top-level names that :func:`_bound_names` cannot see."""
    for node in ast.walk(tree):
        if isinstance(node, ast.NamedExpr):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC_CALLS:
            return True
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "__getattr__" for n in tree.body)


def check_model_file(file: Path, function: str, shown_as: str) -> None:
    """InvalidInput when ``file`` does not parse, or certainly does not define ``function`` at top level."""
    try:
        source = file.read_bytes()
        tree = ast.parse(source, filename=shown_as)
    except SyntaxError as e:
        raise InvalidInput(f"{shown_as}:{e.lineno or 0}: {e.msg}") from None
    except OSError as e:
        raise InvalidInput(f"cannot read model file {shown_as}: {e.strerror or e}") from None
    except (ValueError, MemoryError, RecursionError) as e:  # null bytes; nesting too deep for the parser
        raise InvalidInput(f"{shown_as}: cannot be parsed as Python ({type(e).__name__})") from None
    names = _bound_names(tree.body)
    if names is not None and function not in names and not _binds_dynamically(tree):
        defs = sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        raise InvalidInput(f"{shown_as} defines no function {function!r}"
                           + (f" (functions: {', '.join(defs)})" if defs else ""))


EXAMPLE_NAME = "EXAMPLE"


def example_request(file: Path) -> object | None:
    """The model's example request: a literal assigned to ``EXAMPLE`` at the top of the file (CML's "example
    input"), which a new build is called with before it gets traffic (a warm-up: the first call of a model is often
    the slowest). None when the file defines none, or not as a literal."""
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, OSError, ValueError, MemoryError, RecursionError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == EXAMPLE_NAME):
            try:
                value: object = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None
            return value
    return None
