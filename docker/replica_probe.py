"""A Kubernetes probe for one model replica (``python -m serving.replica``): exit 0 when the replica answers a
HEALTH frame on its Unix socket, the check mlcatalog's own supervisor makes. The replica binds the socket only once
its model is loaded and answers HEALTH even while a prediction runs, so one probe serves readiness and liveness.

Usage: ``python replica_probe.py SOCKET``.
"""

from __future__ import annotations

import asyncio
import sys

from serving.platform.pool import replica_health

TIMEOUT_S = 2.0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: replica_probe.py SOCKET", file=sys.stderr)
        return 2
    try:
        asyncio.run(replica_health(argv[0], timeout=TIMEOUT_S))
    except (OSError, EOFError, TimeoutError, ValueError) as exc:
        print(f"replica not healthy: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
