"""The image's HEALTHCHECK: exit 0 when ``mlcatalog up`` in this container answers ``GET /readyz`` with 200 (its
state store, metrics store and Atlas answer; ``mlcatalog.health``), else 1 with what was not ready.

``/readyz`` needs no credentials; the port is resolved by mlcatalog's own settings, as the server resolved it. A
health check runs outside the entrypoint, so settings given as ``MLCATALOG_*_FILE`` are read here the same way.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from mlcatalog.health import READY_PATH
from mlcatalog.settings import ConfigError, load_settings

FILE_SUFFIX = "_FILE"
TIMEOUT_S = 4.0  # the server bounds each of its checks at 2 s: within the image's 5 s HEALTHCHECK timeout


def resolved_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with each ``MLCATALOG_X_FILE`` replaced by ``MLCATALOG_X`` (the file's text, as the entrypoint)."""
    out = {k: v for k, v in environ.items() if not (k.startswith("MLCATALOG_") and k.endswith(FILE_SUFFIX))}
    for key, path in environ.items():
        if key.startswith("MLCATALOG_") and key.endswith(FILE_SUFFIX):
            out[key[: -len(FILE_SUFFIX)]] = Path(path).read_text().rstrip("\n")
    return out


def readiness_url(environ: Mapping[str, str]) -> str:
    settings = load_settings(environ=resolved_environ(environ))
    return f"http://127.0.0.1:{settings.server.port}{READY_PATH}"


def _why(answer: urllib.error.HTTPError) -> str:
    """The 503's message and problems (mlcatalog's error body), else the status line."""
    try:
        body = json.loads(answer.read())
        return "; ".join([str(body["message"]), *map(str, body.get("problems", []))])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {answer.code} {answer.reason}"


def main() -> int:
    try:
        with urllib.request.urlopen(readiness_url(os.environ), timeout=TIMEOUT_S) as answer:
            if answer.status != 200:
                return 1
            ready = json.loads(answer.read())
        if ready.get("status") == "degraded":  # still serving (an external Atlas is down): healthy, but say why
            failing = "; ".join(f"{c['name']}: {c['detail']}" for c in ready.get("checks", []) if not c.get("ok"))
            print(f"mlcatalog degraded: {failing}", file=sys.stderr)
        return 0
    except urllib.error.HTTPError as exc:
        with exc:
            print(f"mlcatalog not ready: {_why(exc)}", file=sys.stderr)
        return 1
    except (ConfigError, OSError) as exc:  # URLError is an OSError: nothing answers, or a setting is refused
        print(f"mlcatalog not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
