"""A model's builds over time: which deployment answers the model's calls, and how that changes without a failed
call (the rules are in serving/platform/routing.py).

* **Rollout** (a deploy of a model that is live): the new build's replicas start and answer the model's example
  request (``EXAMPLE`` in the model file, a warm-up), then the model's traffic moves to it in one step, then the
  old build's calls in flight are answered (its pool drains) and its replicas stop: it is *retired*. A build that
  fails to start or to answer its example leaves the old one serving.
* **Canary** and **shadow**: the new build takes a share of the calls, or a copy of every call.
* **Traffic, promote, rollback**: any split over the model's builds; a retired build is started again first.

Every change is one transaction on the model's route (serialised across instances) that also queues the catalog
records of the deployments whose role or share changed, so Atlas shows each build's role and share.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from catalog import Conflict, InvalidInput, NotFound
from serving.platform.modelfile import example_request
from serving.platform.routing import Route, check_split, load_route, load_routes, save_route
from serving.replica import OK

if TYPE_CHECKING:
    from serving.platform.service import DeployRequest, Platform

log = logging.getLogger(__name__)
DRAIN_S = 90.0  # the longest a retired build's calls in flight are waited for (busy + request timeouts)
WARM_UP_S = 120.0  # the longest the example request may take on a new replica


class Share(BaseModel):
    deployment_crn: str
    build_crn: str
    status: str
    role: str
    percent: int


class ModelTraffic(BaseModel):
    """A model's traffic: its key's hint, each build's share and role, the split a rollback returns to."""

    model_crn: str
    model_name: str
    access_key_hint: str
    sticky_field: str | None
    shares: list[Share] = Field(description="the builds that get calls (live, canaries, the shadow)")
    previous: dict[str, int] = Field(description="deployment CRN -> percent before the latest change")


def _rescaled(shares: dict[str, int]) -> dict[str, int]:
    """Shares scaled to sum to 100 (largest remainder), or {} when none is left."""
    total = sum(shares.values())
    if total <= 0:
        return {}
    exact = {k: v * 100 / total for k, v in shares.items()}
    out = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - out[k], reverse=True)[:100 - sum(out.values())]:
        out[k] += 1
    return out


class Versions:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.routes: dict[str, Route] = {}  # access key hash -> route (models' keys, and older deployments' own)
        self.by_model: dict[str, Route] = {}
        self.family: dict[str, frozenset[str]] = {}  # model crn -> every deployment it ever had
        self.drain_s = DRAIN_S
        #: called with (the model's builds before, live first; the new one) when a new build takes traffic: the
        #: monitors follow the model (mlcatalog wires MonitorService.follow)
        self.on_new_build: Callable[[list[str], str], object] = lambda previous, crn: None

    # -- reading --------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """The routes from the state (after a change here, or another instance's)."""
        conn = self.p.state.conn()
        routes = {d["access_key_hash"]: Route(d["model_crn"], {crn: 100}) for crn, d in self.p.served.items()}
        by_model = {}
        for r in load_routes(conn):
            routes[r.key_hash] = r
            by_model[r.model_crn] = r
        family: dict[str, set[str]] = {}
        for crn, model in conn.rows("SELECT crn, model_crn FROM deployment"):
            family.setdefault(model, set()).add(crn)
        self.routes, self.by_model = routes, by_model
        self.family = {k: frozenset(v) for k, v in family.items()}

    def route_of(self, model_crn: str) -> Route | None:
        return load_route(self.p.state.conn(), model_crn)

    def share(self, model_crn: str, crn: str, route: Route | None = None) -> dict[str, Any]:
        """The deployment's role in its model's traffic and its percent of the calls."""
        route = route or self.by_model.get(model_crn)
        if route is None:
            return {"role": "live", "traffic_percent": 100} if crn in self.p.served else {
                "role": "retired", "traffic_percent": 0}
        return {"role": route.role(crn), "traffic_percent": route.split.get(crn, 0)}

    def describe(self, model_crn: str) -> ModelTraffic:
        route = self.route_of(model_crn)
        if route is None:
            raise NotFound(f"no model {model_crn}")
        conn = self.p.state.conn()
        rows = {r["crn"]: r for r in conn.execute("SELECT crn, build_crn, status, model_name FROM deployment "
                                                  "WHERE model_crn = ?", (model_crn,)).fetchall()}
        order = sorted(route.members(), key=lambda crn: (-route.split.get(crn, 0), crn))
        shares = [Share(deployment_crn=crn, build_crn=rows[crn]["build_crn"], status=rows[crn]["status"],
                        role=route.role(crn), percent=route.split.get(crn, 0)) for crn in order if crn in rows]
        name = next((r["model_name"] for r in rows.values()), "")
        return ModelTraffic(model_crn=model_crn, model_name=name, access_key_hint=route.key_hint,
                            sticky_field=route.sticky, shares=shares, previous=route.previous)

    def models(self) -> list[ModelTraffic]:
        return [self.describe(r.model_crn) for r in load_routes(self.p.state.conn())]

    def resolve_model(self, ref: str) -> str:
        """A model's CRN from its CRN or its name (unique among the platform's models)."""
        ref = ref.strip()
        conn = self.p.state.conn()
        if conn.execute("SELECT 1 FROM model_route WHERE model_crn = ?", (ref,)).fetchone():
            return ref
        found = [r[0] for r in conn.rows("SELECT DISTINCT d.model_crn FROM deployment d JOIN model_route m "
                                         "ON m.model_crn = d.model_crn WHERE d.model_name = ?", (ref,))]
        if not found:
            raise NotFound(f"no model {ref} (a model's CRN or name, as deployed: mlcatalog deployments)")
        if len(found) > 1:
            # their CRNs are not listed: some may be in projects the caller may not read (mlcatalog models shows hers)
            raise InvalidInput(f"{len(found)} models are named {ref}: give its CRN (mlcatalog models lists them)")
        return str(found[0])

    def _deployment_of(self, model_crn: str, key: str) -> str:
        """The model's deployment named by ``key``: its CRN, or a build CRN (its newest deployment of that build)."""
        conn = self.p.state.conn()
        row = conn.execute("SELECT crn, model_crn, model_name FROM deployment WHERE crn = ? OR build_crn = ? "
                           "ORDER BY (model_crn = ?) DESC, create_time_ms DESC LIMIT 1",
                           (key, key, model_crn)).fetchone()
        if row is None:
            raise InvalidInput(f"{key}: no build or deployment of this platform")
        if row["model_crn"] != model_crn:
            raise InvalidInput(f"{key} is a build of another model ({row['model_name']}), not of {model_crn}")
        return str(row["crn"])

    # -- taking traffic ---------------------------------------------------------------------------------------
    async def warm_up(self, d: dict[str, Any]) -> None:
        """Call every new replica with the model's example request (none: nothing to do); RuntimeError when one
        fails, with the model's error."""
        running = self.p.supervisor.running.get(d["crn"])
        if running is None:
            return
        # the build's own EXAMPLE (its snapshot's model file), not the working tree's: a rollback is warmed with its own
        example = await asyncio.to_thread(example_request, Path(running.spec.file))
        pool = running.pool
        if example is None:
            return
        payload = orjson.dumps(example)
        deadline = time.monotonic() + WARM_UP_S
        answers = await asyncio.gather(*(h.call(payload, WARM_UP_S, deadline) for h in pool.replicas if h.alive))
        for answer in answers:
            if answer[:1] != OK:
                failure = orjson.loads(answer[1:])
                raise RuntimeError(f"the model's EXAMPLE request failed on the new build (error id "
                                   f"{failure.get('error_id')}): {failure.get('error') or failure}")

    async def take_traffic(self, d: dict[str, Any], access_key: str, req: DeployRequest) -> Route:
        """The new deployment ``d`` (started and warm) joins its model's traffic as the request says; the builds it
        replaces are retired. The model's route (and key) is made at its first deploy."""
        model = d["model_crn"]
        with self.p.state.tx() as c:
            c.serialize(f"model-route:{model}")
            old = load_route(c, model, c.for_update)
            live = bool(old and any(p > 0 for p in old.split.values()))
            if old is None:
                new = Route(model, {d["crn"]: 100}, sticky=req.sticky_field, key_hash=d["access_key_hash"],
                            key_hint=d["access_key_hint"])
            elif req.shadow and live:
                new = replace(old, shadow=d["crn"], sticky=req.sticky_field or old.sticky)
            elif req.canary is not None and live and old.live is not None:
                new = replace(old, split={old.live: 100 - req.canary, d["crn"]: req.canary}, previous=old.split,
                              sticky=req.sticky_field or old.sticky)
            else:
                new = replace(old, split={d["crn"]: 100}, previous=old.split if live else old.previous,
                              sticky=req.sticky_field or old.sticky)
            self._save(c, old, new, {d["crn"]: d})
        self.p.wake_outbox()
        self.reload()
        if old is not None:
            previous = sorted(old.members(), key=lambda m: (-old.split.get(m, 0), m))
            try:
                self.on_new_build(previous, d["crn"])
            except Exception:  # the deploy went through: a monitor not following is logged, not fatal
                log.exception("the monitor of %s did not follow to its new build %s", model, d["crn"])
        await self._retire_all((old.members() if old else set()) - new.members())
        return new

    def _save(self, c: Any, old: Route | None, new: Route, deploying: dict[str, dict[str, Any]]) -> None:
        """Store ``new`` and queue the catalog records of the deployments whose role or share changed (those in
        ``deploying`` become deployed; those that leave get their own stopping and stopped records)."""
        save_route(c, new, int(time.time() * 1000))
        for d in deploying.values():
            self.p._set_status(d, "deployed", c, new)
        changed = {crn for crn in new.members() if crn not in deploying
                   and (old is None or old.role(crn) != new.role(crn) or old.split.get(crn) != new.split.get(crn))}
        for crn in sorted(changed):
            row = c.execute("SELECT * FROM deployment WHERE crn = ?", (crn,)).fetchone()
            if row is not None and row["status"] == "deployed":
                d = dict(row)
                self.p._enqueue(c, "deployment", self.p._record(d, "deployed", d["deployed_time_ms"], new), d)

    async def drain(self, crn: str) -> None:
        """Wait until the deployment has answered the calls it was given (it gets no new ones)."""
        pool = self.p.supervisor.pool(crn)
        if pool is not None and not await pool.drain(self.drain_s):
            log.warning("deployment %s still had calls in flight after %.0fs; stopping it anyway", crn, self.drain_s)

    async def _retire_all(self, crns: set[str]) -> None:
        for crn in sorted(crns):
            row = self.p.state.conn().execute("SELECT * FROM deployment WHERE crn = ?", (crn,)).fetchone()
            if row is None or row["status"] not in ("deployed", "deploying"):
                continue
            d = dict(row)
            await self.drain(crn)
            self.p.served.pop(crn, None)
            self.p._set_status(d, "stopping")
            await self.p.supervisor.stop(crn)
            self.p._set_status(d, "stopped")
            log.info("deployment %s retired", crn)

    async def leave(self, d: dict[str, Any]) -> None:
        """A deployment being stopped leaves its model's traffic; the others' shares grow in proportion."""
        model, crn = d["model_crn"], d["crn"]
        with self.p.state.tx() as c:
            c.serialize(f"model-route:{model}")
            old = load_route(c, model, c.for_update)
            if old is None or crn not in old.members():
                return
            rest = _rescaled({k: v for k, v in old.split.items() if k != crn and v > 0})
            new = replace(old, split=rest, previous=old.split if crn in old.split else old.previous,
                          shadow=None if old.shadow == crn else old.shadow)
            self._save(c, old, new, {})
        self.p.wake_outbox()
        self.reload()

    # -- changing traffic -------------------------------------------------------------------------------------
    async def set_traffic(self, ref: str, shares: dict[str, int]) -> Route:
        """``mlcatalog traffic MODEL BUILD=PCT ...``: any split over the model's builds (or deployments)."""
        model = self.resolve_model(ref)
        check_split(shares)
        split: dict[str, int] = {}
        for key, percent in shares.items():
            crn = self._deployment_of(model, key)
            if crn in split:
                raise InvalidInput(f"{key}: named twice (a build and its deployment)")
            split[crn] = percent
        return await self._apply(model, split)

    async def promote(self, ref: str) -> Route:
        """The canary (or the shadow) takes all of the model's calls."""
        model = self.resolve_model(ref)
        route = self.route_of(model)
        assert route is not None
        canaries = sorted((p, crn) for crn, p in route.split.items() if p > 0 and crn != route.live)
        if canaries:
            return await self._apply(model, {canaries[-1][1]: 100})
        if route.shadow is not None:
            return await self._apply(model, {route.shadow: 100}, keep_shadow=False)
        raise InvalidInput(f"model {model} has no canary or shadow to promote")

    async def rollback(self, ref: str) -> Route:
        """Back to the split before the latest change (its builds started again if they were retired)."""
        model = self.resolve_model(ref)
        route = self.route_of(model)
        assert route is not None
        if not route.previous:
            raise InvalidInput(f"model {model} has no previous build to roll back to")
        return await self._apply(model, route.previous)

    async def _apply(self, model: str, split: dict[str, int], *, keep_shadow: bool = True) -> Route:
        """Start what the split needs, then switch the model's traffic to it, then retire what it left."""
        starting: dict[str, dict[str, Any]] = {}
        self.p.pinned.update(split)  # sync (shared state) must not stop them before they are recorded deployed
        try:
            for crn, percent in split.items():
                row = self.p.state.conn().execute("SELECT * FROM deployment WHERE crn = ?", (crn,)).fetchone()
                if percent > 0 and crn not in self.p.served:
                    d = dict(row)
                    try:
                        await self.p.start_here(d)
                        await self.warm_up(d)
                    except Exception as e:
                        await self.p.supervisor.stop(crn)
                        self.p.served.pop(crn, None)
                        raise Conflict(f"deployment {crn} could not be started again, the traffic is unchanged: "
                                       f"{' '.join(str(e).split())}") from e
                    if d["status"] != "deployed":
                        starting[crn] = d
            return await self._switch(model, split, starting, keep_shadow)
        finally:
            self.p.pinned.difference_update(split)

    async def _switch(self, model: str, split: dict[str, int], starting: dict[str, dict[str, Any]],
                      keep_shadow: bool) -> Route:
        with self.p.state.tx() as c:
            c.serialize(f"model-route:{model}")
            old = load_route(c, model, c.for_update)
            assert old is not None
            # a shadow given a share of the calls is a shadow no more
            shadow = old.shadow if keep_shadow and split.get(old.shadow or "", 0) == 0 else None
            new = replace(old, split=dict(split), previous=old.split, shadow=shadow)
            self._save(c, old, new, starting)
        self.p.wake_outbox()
        self.reload()
        previous = sorted(old.members(), key=lambda m: (-old.split.get(m, 0), m))
        for crn in starting:  # a build started again (a rollback) is monitored again, like the one it joins
            try:
                self.on_new_build(previous, crn)
            except Exception:
                log.exception("the monitor of %s did not follow to %s", model, crn)
        await self._retire_all(old.members() - new.members())
        return new
