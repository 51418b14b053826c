"""Command functions for ``mlcatalog lint`` and ``mlcatalog lineage-schema``.

Plain functions taking parsed arguments, so ``catalog.cli`` registers them with typer and tests call them directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from catalog.lineagefile.files import lint_paths
from catalog.lineagefile.schema import lineage_json_schema

__all__ = ["lint_command", "schema_command"]


def lint_command(paths: list[Path]) -> int:
    """Check lineage files (a directory means its lineage.yml or lineage.yaml; none given means ``.``). A file
    named ``*.json`` is checked as strict JSON, anything else as YAML.

    Prints one ``path:line:column: message`` line per problem to stdout and nothing when all is well; returns the
    exit code, 0 if there were no problems, else 1.
    """
    problems = lint_paths(paths or [Path(".")])
    for problem in problems:
        typer.echo(str(problem))
    return 1 if problems else 0


def schema_command() -> None:
    """Print the lineage file JSON Schema (draft 2020-12), indented by 2."""
    typer.echo(json.dumps(lineage_json_schema(), indent=2))
