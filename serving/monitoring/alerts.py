"""Drift alerts: a JSON event POSTed to the monitor's webhook when a deployment's drift status changes.

The body is signed like GitHub's and Stripe's webhooks: ``X-Mlcatalog-Signature: sha256=<hex HMAC-SHA256 of the
raw body with the platform's webhook secret>``, with ``X-Mlcatalog-Timestamp`` (epoch seconds, inside the signed
body too) so a receiver can refuse replays, and ``X-Mlcatalog-Event-Id`` (the same on every retry of one event) so
it can drop duplicates. Delivery is retried with exponential backoff on connection errors, 5xx and 429; a 4xx
other than 429 is the receiver's final answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from typing import Any

import httpx
import orjson

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Mlcatalog-Signature"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(body, secret), signature)


def drift_event(crn: str, previous: str | None, status: str, columns: list[str], window: tuple[int, int],
                summary: dict[str, Any]) -> dict[str, Any]:
    return {"type": "mlcatalog.drift.status_changed", "id": str(uuid.uuid4()), "timestamp": int(time.time()),
            "deployment_crn": crn, "previous_status": previous, "status": status, "drifted_columns": columns,
            "window": {"start_ms": window[0], "end_ms": window[1]}, "summary": summary}


def send(url: str, event: dict[str, Any], secret: str | None, *, attempts: int = 4, backoff_s: float = 0.5,
         timeout_s: float = 10.0, client: httpx.Client | None = None) -> str | None:
    """POST ``event``; None when delivered, else the last error (after ``attempts`` tries)."""
    body = orjson.dumps(event)
    headers = {"Content-Type": "application/json", "X-Mlcatalog-Event-Id": str(event.get("id")),
               "X-Mlcatalog-Timestamp": str(event.get("timestamp")), "User-Agent": "mlcatalog-monitor"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    error = "not sent"
    try:
        for attempt in range(attempts):
            if attempt:
                time.sleep(backoff_s * 2 ** (attempt - 1))
            try:
                resp = http.post(url, content=body, headers=headers)
            except httpx.HTTPError as e:
                error = f"{type(e).__name__}: {e}"
                continue
            if resp.status_code < 300:
                return None
            error = f"HTTP {resp.status_code}"
            if resp.status_code < 500 and resp.status_code != 429:
                break
    finally:
        if own:
            http.close()
    log.warning("drift alert to %s not delivered: %s", url, error)
    return error
