"""Checking events against the OpenLineage specification (the pinned schemas in ``spec/``, see its README) and
mlcatalog's own facet schemas, and golden files of events."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from catalog.openlineage import FACET_SCHEMAS

SPEC = Path(__file__).parent / "spec"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MLCATALOG_UPDATE_GOLDEN") == "1"  # rewrite the golden files (then review the diff)


def _registry() -> Registry[Any]:
    schemas = [json.loads(p.read_text(encoding="utf-8")) for p in [SPEC / "OpenLineage.json",
                                                                    *sorted((SPEC / "facets").glob("*.json"))]]
    schemas += FACET_SCHEMAS.values()
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


REGISTRY = _registry()
SPEC_ID = json.loads((SPEC / "OpenLineage.json").read_text(encoding="utf-8"))["$id"]


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY, format_checker=FormatChecker())


def _facets(event: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found = [*event["run"].get("facets", {}).items(), *event["job"].get("facets", {}).items()]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            found += dataset.get(key, {}).items()
    return found


def schema_errors(event: Mapping[str, Any]) -> list[str]:
    """Why ``event`` is no valid RunEvent of the spec, and each of its facets no valid facet of its own schema
    (named by its ``_schemaURL``); [] when it is."""
    errors = [f"RunEvent: {e.json_path}: {e.message}" for e in _validator(f"{SPEC_ID}#/$defs/RunEvent")
              .iter_errors(event)]
    for key, facet in _facets(event):
        url = facet["_schemaURL"]
        document = url.partition("#")[0]
        if document not in REGISTRY:
            errors.append(f"facet {key}: its schema {url} is not pinned")
            continue
        errors += [f"facet {key}: {e.json_path}: {e.message}" for e in _validator(url).iter_errors(facet)]
    return errors


def assert_golden(name: str, event: Mapping[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(event, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"event differs from {path}"


class Marquez:
    """A stand-in for Marquez's ``POST /api/v1/lineage`` on a fixed port, started and stopped by the test (fault
    injection: the lineage backend down, then up). ``status``: what it answers."""

    def __init__(self, port: int, status: int = 201) -> None:
        self.port = port
        self.status = status
        self.events: list[dict[str, Any]] = []
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/api/v1/lineage" and stand_in.status < 300:
                    stand_in.events.append(json.loads(body))
                self.send_response(stand_in.status if self.path == "/api/v1/lineage" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads what it received
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def http_config(path: Path, port: int) -> Path:
    """An openlineage.yml sending to ``port`` over HTTP, failing fast (no retries of the client's own)."""
    path.write_text(f"transport:\n  type: http\n  url: http://127.0.0.1:{port}\n  timeout: 2\n"
                    "  retry:\n    total: 0\n", encoding="utf-8")
    return path


def file_config(path: Path, log: Path) -> Path:
    """An openlineage.yml appending events to ``log``, one JSON a line."""
    path.write_text(f"transport:\n  type: file\n  log_file_path: {log}\n  append: true\n", encoding="utf-8")
    return path
