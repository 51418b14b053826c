"""Helpers for tests that drive real `python -m mlcatalog` processes (CLI runs) and git projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0

WINE_MODEL = "Predict w/ Monitoring & Lineage"
WINE_TABLES = ["default.wineds_ext_nolabel@cm", "default.wineds_ext@cm"]
CHURN_MODEL = "churn"
CHURN_TABLES = ["default.churn_features@cm"]
CHURN_METADATA = {"owner": "ds-team", "query": "select * from churn_features"}
# The wine demo (CML's lineage.yml, JSON is YAML) plus a second model that does not read the wine tables.
TWO_MODELS = json.dumps({
    WINE_MODEL: {"hive_table_qualified_names": WINE_TABLES},
    CHURN_MODEL: {"hive_table_qualified_names": CHURN_TABLES, "metadata": CHURN_METADATA},
}, indent=2)

REGION, ACCOUNT, WORKSPACE = "us-west-1", "acct-42", "ws-test"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any MLCATALOG_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCATALOG_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def run_cli(cwd: Path, *args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m mlcatalog <args>`` to completion."""
    return subprocess.run([sys.executable, "-m", "mlcatalog", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit_file(repo: Path, name: str, content: str, message: str = "update") -> str:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "-c", "user.name=Data Scientist", "-c", "user.email=ds@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_project(parent: Path, lineage: str, name: str = "wine-project") -> Path:
    repo = parent / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "lineage.yml", lineage, "initial commit")
    return repo


def json_of(r: httpx.Response) -> Any:
    assert r.headers.get("content-type", "").startswith("application/json"), (r.status_code, r.text)
    return r.json()
