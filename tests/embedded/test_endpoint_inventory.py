"""How much of Atlas's REST API the embedded store serves.

``atlas_endpoints.txt`` lists Atlas's endpoints (its header says which resource classes, at which commit); each is
matched against the routes the store's :class:`~catalog.embedded.routes.AtlasApi` dispatches
(``catalog.embedded.routes.ROUTES``), as ``AtlasApi.dispatch`` matches them: Starlette's path templates, the first
route that matches the method and path wins. An endpoint is implemented when that route takes each of Atlas's path
parameters as a parameter of its own. A route parameter where Atlas has a fixed segment counts only where the store
dispatches on that segment (``types/{kind}/name/{name}`` serves the kinds of ``routes.DEF_KINDS``); anywhere else
the store would read Atlas's fixed word as an id, which is not serving the endpoint.

Coverage may only grow: the endpoints of ``atlas_endpoints_implemented.txt`` must stay implemented (add to that file
when a route is added). Every route must serve one of Atlas's endpoints, so the inventory stays the whole API.

    python -m tests.embedded.test_endpoint_inventory    # the figure and the endpoints still missing
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import NamedTuple

import pytest
from starlette.routing import Match, Route

from catalog.embedded.routes import DEF_KINDS, ROUTES

HERE = Path(__file__).parent
INVENTORY = HERE / "atlas_endpoints.txt"
PINNED = HERE / "atlas_endpoints_implemented.txt"
PREFIX = "/api/atlas"  # where the store's Atlas API is mounted (catalog.embedded.app.ATLAS_PREFIX)
METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_PARAM = re.compile(r"\{(\w+)\}")
_LINE = re.compile(r"(?P<method>[A-Z]+) (?P<path>/\S*)\s+# (?P<resource>\w+\.\w+)")
# Route parameters the store dispatches on, with the fixed segments of Atlas's paths each one serves.
DISPATCHING: dict[str, Collection[str]] = {"kind": DEF_KINDS}


class Endpoint(NamedTuple):
    method: str
    path: str  # with /api/atlas, parameters in braces
    resource: str  # Atlas's class.method

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


class Coverage(NamedTuple):
    implemented: int
    total: int
    missing: list[str]


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            yield number, line


def inventory() -> list[Endpoint]:
    """Atlas's endpoints, in the file's order."""
    out = []
    for number, line in _lines(INVENTORY):
        m = _LINE.fullmatch(line.strip())
        if m is None:
            raise ValueError(f"{INVENTORY.name}:{number}: not 'METHOD /path  # Class.method': {line!r}")
        out.append(Endpoint(m["method"], m["path"], m["resource"]))
    return out


def pinned() -> set[str]:
    """``METHOD /path`` of the endpoints known to be implemented."""
    return {line.strip() for _, line in _lines(PINNED)}


def store_routes() -> list[Route]:
    """The store's routes in dispatch order, matched by Starlette as AtlasApi matches them."""
    return [Route(path, endpoint=_never_served, methods=[method]) for method, path, _ in ROUTES]


def _never_served() -> None:  # pragma: no cover - only the routes' matching is used
    raise AssertionError("routes are matched here, never served")


def serving_route(endpoint: Endpoint, routes: list[Route]) -> Route | None:
    """The route that answers ``endpoint``, or None if none does (see the module's docstring)."""
    sentinels: dict[str, str] = {}

    def sentinel(m: re.Match[str]) -> str:
        sentinels[m[1]] = value = f"p{len(sentinels)}x{m[1]}"  # a value no fixed segment of any path has
        return value

    concrete = _PARAM.sub(sentinel, endpoint.path.removeprefix(PREFIX))
    scope = {"type": "http", "path": concrete, "root_path": "", "method": endpoint.method}
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        values = child["path_params"]
        taken = {v for v in values.values() if isinstance(v, str)}
        atlas_params_taken = set(sentinels.values()) <= taken
        fixed_ok = all(v in sentinels.values() or v in DISPATCHING.get(name, ()) for name, v in values.items())
        return route if atlas_params_taken and fixed_ok else None
    return None


def implemented_endpoints(routes: list[Route] | None = None) -> list[Endpoint]:
    routes = store_routes() if routes is None else routes
    return [e for e in inventory() if serving_route(e, routes) is not None]


def coverage() -> Coverage:
    """(endpoints implemented, Atlas's endpoints, ``METHOD /path  # Class.method`` of each one missing)."""
    everything = inventory()
    done = {e.key for e in implemented_endpoints()}
    missing = [f"{e.key}  # {e.resource}" for e in everything if e.key not in done]
    return Coverage(len(done), len(everything), missing)


def summary(c: Coverage) -> str:
    return f"Atlas REST endpoints implemented: {c.implemented} of {c.total}"


# -- the inventory ------------------------------------------------------------------------------------------------
def test_the_inventory_is_one_line_per_endpoint() -> None:
    endpoints = inventory()
    keys = [e.key for e in endpoints]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    for e in endpoints:
        assert e.method in METHODS, e
        assert e.path.startswith((PREFIX + "/v2/", PREFIX + "/admin/")), e
        assert "//" not in e.path and not e.path.endswith("/"), e
    assert {e.resource.split(".")[0] for e in endpoints} >= {"EntityREST", "TypesREST", "AdminResource"}


def test_the_pinned_endpoints_are_atlas_endpoints() -> None:
    assert pinned() - {e.key for e in inventory()} == set()


# -- the matching -------------------------------------------------------------------------------------------------
def _routes(*routes: tuple[str, str]) -> list[Route]:
    return [Route(path, endpoint=_never_served, methods=[method]) for method, path in routes]


def _served(method: str, path: str, routes: list[Route]) -> str | None:
    route = serving_route(Endpoint(method, PREFIX + path, "Atlas.endpoint"), routes)
    return None if route is None else route.path


def test_a_route_serves_an_endpoint_of_its_method_and_shape() -> None:
    routes = _routes(("GET", "/v2/entity/guid/{guid}"), ("DELETE", "/v2/entity/guid/{id}"))
    assert _served("GET", "/v2/entity/guid/{guid}", routes) == "/v2/entity/guid/{guid}"
    assert _served("DELETE", "/v2/entity/guid/{guid}", routes) == "/v2/entity/guid/{id}"  # names may differ
    assert _served("PUT", "/v2/entity/guid/{guid}", routes) is None
    assert _served("GET", "/v2/entity/guid/{guid}/header", routes) is None


def test_a_route_reading_a_fixed_segment_as_an_id_does_not_serve_it() -> None:
    routes = _routes(("GET", "/v2/glossary/{glossaryGuid}"), ("GET", "/v2/search/{what}/{name}"))
    assert _served("GET", "/v2/glossary/{glossaryGuid}", routes) == "/v2/glossary/{glossaryGuid}"
    assert _served("GET", "/v2/glossary/import", routes) is None
    assert _served("GET", "/v2/search/saved/{name}", routes) is None


def test_a_fixed_segment_served_by_a_route_that_dispatches_on_it() -> None:
    routes = _routes(("GET", "/v2/types/{kind}/name/{name}"))
    assert _served("GET", "/v2/types/enumdef/name/{name}", routes) == "/v2/types/{kind}/name/{name}"
    assert _served("GET", "/v2/types/notadef/name/{name}", routes) is None


def test_the_first_matching_route_answers_as_in_dispatch() -> None:
    """A route before the right one that takes the request answers it: the endpoint is not served."""
    routes = _routes(("GET", "/v2/search/saved/{name}"), ("GET", "/v2/search/saved/execute"))
    assert _served("GET", "/v2/search/saved/execute", routes) is None


# -- the store ----------------------------------------------------------------------------------------------------
def test_coverage_never_shrinks(record_property: Callable[[str, object], None]) -> None:
    c = coverage()
    record_property("atlas_endpoints_implemented", c.implemented)
    record_property("atlas_endpoints_total", c.total)
    print(summary(c))  # shown with -s
    lost = pinned() - {e.key for e in implemented_endpoints()}
    assert lost == set(), f"endpoints no longer implemented: {sorted(lost)}"


@pytest.mark.parametrize("method,path", [(m, p) for m, p, _ in ROUTES], ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_serves_an_atlas_endpoint(method: str, path: str) -> None:
    """A route serving none would be outside Atlas's API, or missing from the inventory."""
    route = _routes((method, path))
    assert any(serving_route(e, route) is not None for e in inventory() if e.method == method), (method, path)


if __name__ == "__main__":
    found = coverage()
    print(summary(found))
    print(f"missing ({len(found.missing)}):")
    for line in found.missing:
        print("  " + line)
