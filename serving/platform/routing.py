"""How a model's calls are shared among its builds: the model's access key, its traffic split, its shadow.

The access key belongs to the model (as in CML: "only one access key per model is active"): the first deploy of a
model makes it, later deploys of new builds keep it, so callers never change it. Behind the key, the split says
which deployment (one per build) answers what share of the calls, in whole percent summing to 100; a shadow
deployment gets a copy of every call, its answer recorded and never returned. With a sticky field, the calls that
carry the same value of that request field go to the same build (a stable hash of the value picks the slot);
without one, each call draws its slot at random.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog import InvalidInput

ROLES = ("live", "canary", "shadow", "retired")


@dataclass(frozen=True)
class Route:
    model_crn: str
    split: dict[str, int]  # deployment crn -> percent (0 or more entries; percents sum to 100 when any)
    shadow: str | None = None
    sticky: str | None = None
    previous: dict[str, int] = field(default_factory=dict)  # the split before the latest change (rollback)
    key_hash: str = ""  # sha256 of the model's access key ("" for a deployment's own, older key)
    key_hint: str = ""
    _cumulative: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        total, bounds = 0, []
        for crn, percent in self.split.items():
            if percent > 0:
                total += percent
                bounds.append((total, crn))
        object.__setattr__(self, "_cumulative", tuple(bounds))

    def pick(self, request: Any) -> str | None:
        """The deployment that answers ``request``; None when no build gets the model's calls (it is stopped)."""
        if not self._cumulative:
            return None
        if len(self._cumulative) == 1:
            return self._cumulative[0][1]
        slot = self._slot(request)
        for bound, crn in self._cumulative:
            if slot < bound:
                return crn
        return self._cumulative[-1][1]

    def _slot(self, request: Any) -> int:
        if self.sticky is not None and isinstance(request, Mapping) and self.sticky in request:
            value = json.dumps(request[self.sticky], sort_keys=True, default=str).encode()
            return int.from_bytes(hashlib.blake2b(value, digest_size=8).digest(), "big") % 100
        return random.randrange(100)  # a traffic share, not a secret

    def role(self, crn: str) -> str:
        if crn == self.shadow:
            return "shadow"
        if self.split.get(crn, 0) <= 0:
            return "retired"
        return "live" if crn == self.live else "canary"

    @property
    def live(self) -> str | None:
        """The build with the largest share (the first listed on a tie): what a rollout replaces."""
        best = max(self.split.values(), default=0)
        return next((crn for crn, p in self.split.items() if p == best and p > 0), None)

    def members(self) -> set[str]:
        """Every deployment that receives calls (the split's and the shadow)."""
        return {crn for crn, p in self.split.items() if p > 0} | ({self.shadow} if self.shadow else set())


def check_split(split: Mapping[str, int]) -> dict[str, int]:
    """A split of whole percents summing to 100, or InvalidInput saying what is wrong."""
    if not split:
        raise InvalidInput("a traffic split needs at least one build")
    for key, percent in split.items():
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidInput(f"{key}={percent}: a share is a whole percent from 0 to 100")
    total = sum(split.values())
    if total != 100:
        raise InvalidInput(f"the shares sum to {total}, not 100: "
                           + " ".join(f"{k}={v}" for k, v in split.items()))
    return dict(split)


def to_json(split: Mapping[str, int]) -> str:
    return json.dumps(dict(split))


def from_json(text: str | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in json.loads(text).items()} if text else {}


def load_route(conn: Any, model_crn: str, lock: str = "") -> Route | None:
    """The model's route (``lock``: the connection's ``for_update`` inside a transaction)."""
    row = conn.execute(f"SELECT * FROM model_route WHERE model_crn = ?{lock}", (model_crn,)).fetchone()
    return None if row is None else _route(row)


def load_routes(conn: Any) -> list[Route]:
    return [_route(r) for r in conn.execute("SELECT * FROM model_route ORDER BY model_crn").fetchall()]


def _route(r: Any) -> Route:
    return Route(model_crn=r["model_crn"], split=from_json(r["split"]), shadow=r["shadow"], sticky=r["sticky"],
                 previous=from_json(r["previous"]), key_hash=r["access_key_hash"], key_hint=r["access_key_hint"])


def save_route(c: Any, route: Route, now_ms: int) -> None:
    """Insert or replace the model's route, inside the caller's transaction."""
    c.execute("INSERT INTO model_route (model_crn, access_key_hash, access_key_hint, split, previous, shadow, sticky, "
              "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_crn) DO UPDATE SET "
              "split = excluded.split, previous = excluded.previous, shadow = excluded.shadow, "
              "sticky = excluded.sticky, updated_ms = excluded.updated_ms",
              (route.model_crn, route.key_hash, route.key_hint, to_json(route.split), to_json(route.previous),
               route.shadow, route.sticky, now_ms))
