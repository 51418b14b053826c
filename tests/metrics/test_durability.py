"""A confirmed prediction survives SIGKILL of the replica right after: both backends.

The child (``_durability_child.py``) prints a UUID only after ``submit(...).result()`` or ``write`` returned, i.e.
after COMMIT; the test kills it with SIGKILL in the middle of the stream (writer mid-batch, more batches queued),
reopens the store and requires every printed UUID to be there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from serving.metrics import open_metrics_store

from .conftest import Crns

REPO = Path(__file__).resolve().parents[2]
CONFIRMED_BEFORE_KILL = 400


def test_every_confirmed_prediction_survives_sigkill(store_url: str, crns: Crns) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.metrics._durability_child", store_url, crns.deployment],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(printed) < CONFIRMED_BEFORE_KILL and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            printed.append(line.decode().strip())
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        rest, err = child.communicate(timeout=30)
    assert len(printed) >= CONFIRMED_BEFORE_KILL, f"child stopped early: {err.decode()[-2000:]}"
    assert child.returncode == -signal.SIGKILL
    # lines completed before the kill count too; a partial last line cannot exist (one write per line)
    printed += [line for line in rest.decode().split("\n") if len(line) == 36]
    with open_metrics_store(store_url) as store:
        stored = {r.prediction_uuid for r in store.read(crns.deployment)}
    missing = [u for u in printed if u not in stored]
    assert not missing, f"{len(missing)} of {len(printed)} confirmed predictions lost, e.g. {missing[:3]}"
    assert len(stored) >= len(printed)
