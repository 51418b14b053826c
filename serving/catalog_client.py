"""Serving's door to the catalog: its public REST API (``/api/v1``), nothing else."""

from __future__ import annotations

from typing import Any

import httpx

from serving.platform.outbox import Permanent, Retryable


class CatalogApi:
    def __init__(self, base_url: str, token: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout_s,
                                    headers={"Authorization": f"Bearer {token}"})

    def _call(self, method: str, path: str, body: Any) -> Any:
        try:
            resp = self._client.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise Retryable(f"catalog API at {self.base_url} unreachable: {type(e).__name__}: {e}") from e
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise Retryable(f"catalog API answered {resp.status_code}: {resp.text[:300]}")
        if resp.status_code >= 400:
            raise Permanent(f"catalog API answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def record_build(self, project_dir: str, model: str, commit: str) -> Any:
        return self._call("POST", "/api/v1/builds", {"project_dir": project_dir, "models": [model], "commit": commit,
                                                     "allow_unresolved": True})

    def record_deployment(self, record: dict[str, Any]) -> Any:
        return self._call("PUT", f"/api/v1/deployments/{record['crn']}", record)

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        """The outbox's sender."""
        if kind == "build":
            self.record_build(payload["project_dir"], payload["model"], payload["commit"])
        elif kind == "deployment":
            self.record_deployment(payload)
        else:
            raise Permanent(f"unknown outbox entry kind {kind!r}")

    def close(self) -> None:
        self._client.close()
