"""A restart brings back what was running, in the background: the server answers at once (its liveness probe),
``/readyz`` says the deployments are being restored until they are, and a model call made meanwhile waits for its
model instead of being told no model has its key."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tests.inprocess import ADMIN_KEY, json_of, platform_app
from tests.serving.conftest import make_project

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SLOW_MODEL_PY = '''
import time

time.sleep(5)  # loads for a while at import, as a model with weights to read does


def predict(args):
    return "back"
'''


def test_a_restart_restores_in_the_background_and_a_call_waits_for_its_model(tmp_path: Path) -> None:
    project = make_project(tmp_path / "slow-start", {"model.py": SLOW_MODEL_PY}, ["Slow"])
    store = tmp_path / "store"
    body = {"project_dir": str(project), "model": "Slow", "file": "model.py", "function": "predict"}
    with platform_app(store) as client:
        r = client.post("/api/v1/serving/deployments", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        key = json_of(r)["accessKey"]
    with platform_app(store) as client:  # answers while the model is still importing
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "deployments" in ready.text and "restoring" in ready.text, ready.text
        answers: list[Any] = []
        calls = [threading.Thread(target=lambda: answers.append(client.post(
            "/model", json={"accessKey": key, "request": {}}, headers=ADMIN))) for _ in range(2)]
        for call in calls:
            call.start()
        for call in calls:
            call.join(60)
        assert [(a.status_code, a.json()["response"]["prediction"]) for a in answers] == [(200, "back")] * 2
        assert client.get("/readyz").status_code == 200
