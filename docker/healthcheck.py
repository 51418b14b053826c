"""The image's HEALTHCHECK: exit 0 when ``mlcatalog up`` in this container answers ``GET /api/atlas/admin/readiness``.

A health check runs outside the entrypoint, so secrets given as ``MLCATALOG_*_FILE`` are read here the same way;
the port and the password are then resolved by mlcatalog's own settings, as the server resolved them.
"""

from __future__ import annotations

import base64
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from catalog.embedded.app import ATLAS_PREFIX
from mlcatalog.settings import ATLAS_USER, ConfigError, load_settings

FILE_SUFFIX = "_FILE"
TIMEOUT_S = 4.0


def resolved_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with each ``MLCATALOG_X_FILE`` replaced by ``MLCATALOG_X`` (the file's text, as the entrypoint)."""
    out = {k: v for k, v in environ.items() if not (k.startswith("MLCATALOG_") and k.endswith(FILE_SUFFIX))}
    for key, path in environ.items():
        if key.startswith("MLCATALOG_") and key.endswith(FILE_SUFFIX):
            out[key[: -len(FILE_SUFFIX)]] = Path(path).read_text().rstrip("\n")
    return out


def readiness_request(environ: Mapping[str, str]) -> urllib.request.Request:
    settings = load_settings(environ=resolved_environ(environ))
    token = base64.b64encode(f"{ATLAS_USER}:{settings.atlas_server_password()}".encode()).decode()
    url = f"http://127.0.0.1:{settings.server.port}{ATLAS_PREFIX}/admin/readiness"
    return urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})


def main() -> int:
    try:
        request = readiness_request(os.environ)
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return 0 if answer.status == 200 else 1
    except (ConfigError, OSError) as exc:  # URLError and HTTPError are OSErrors: not ready, and why
        print(f"mlcatalog not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
