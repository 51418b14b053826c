"""Drift webhooks over real HTTP: signed, retried on 5xx and connection errors with the same event id, not
retried on a 4xx."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response

from serving.monitoring import alerts
from tests.servers import free_port, serving_in_thread

SECRET = "webhook-secret-0123456789"


def event() -> dict[str, object]:
    return alerts.drift_event("crn:x", "ok", "drifting", ["Alcohol"], (1, 2), {"predictions": 3})


def test_retried_until_delivered_with_one_event_id_and_a_valid_signature() -> None:
    seen: list[tuple[bytes, dict[str, str]]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        seen.append((await request.body(), dict(request.headers)))
        return Response(status_code=503 if len(seen) < 3 else 204)

    with serving_in_thread(app) as server:
        assert alerts.send(f"{server.url}/hook", event(), SECRET, backoff_s=0.01) is None
    assert len(seen) == 3
    assert len({h["x-mlcatalog-event-id"] for _, h in seen}) == 1
    body, headers = seen[-1]
    assert alerts.verify(body, SECRET, headers["x-mlcatalog-signature"])
    assert not alerts.verify(body, "another-secret-0123456789", headers["x-mlcatalog-signature"])
    data = orjson.loads(body)
    assert (data["type"], data["status"], data["previous_status"]) == ("mlcatalog.drift.status_changed", "drifting",
                                                                       "ok")
    assert data["timestamp"] == int(headers["x-mlcatalog-timestamp"])


def test_a_4xx_is_final_and_an_unreachable_receiver_gives_up() -> None:
    calls: list[int] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> Response:
        calls.append(1)
        return Response(status_code=410)

    with serving_in_thread(app) as server:
        assert alerts.send(f"{server.url}/hook", event(), SECRET, backoff_s=0.01) == "HTTP 410"
    assert len(calls) == 1
    error = alerts.send(f"http://127.0.0.1:{free_port()}/hook", event(), None, attempts=2, backoff_s=0.01)
    assert error is not None and "ConnectError" in error
