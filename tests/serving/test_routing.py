"""A model's traffic split (serving/platform/routing.py): shares, sticky callers, roles, what a split must be."""

from __future__ import annotations

from collections import Counter

import pytest
from scipy.stats import binom

from catalog import InvalidInput
from serving.platform.routing import Route, check_split
from serving.platform.versions import _rescaled


def test_each_call_draws_its_build_by_share() -> None:
    route = Route("m", {"live": 90, "canary": 10})
    counts = Counter(route.pick({"id": i}) for i in range(20_000))
    low, high = binom.interval(0.999, 20_000, 0.10)
    assert set(counts) == {"live", "canary"} and low <= counts["canary"] <= high
    assert {Route("m", {"only": 100}).pick(None) for _ in range(50)} == {"only"}
    assert {Route("m", {"gone": 0, "here": 100}).pick({}) for _ in range(50)} == {"here"}


def test_a_sticky_caller_always_gets_the_same_build() -> None:
    route = Route("m", {"a": 50, "b": 50}, sticky="user")
    for user in range(200):
        assert len({route.pick({"user": f"u{user}", "n": n}) for n in range(10)}) == 1
    picked = Counter(route.pick({"user": f"u{user}"}) for user in range(2000))
    assert 850 < picked["a"] < 1150  # the hash spreads callers by share
    assert {route.pick({"no user": 1}) for _ in range(100)} == {"a", "b"}  # without the field: drawn
    assert route.pick({"user": {"id": 1, "org": 2}}) == route.pick({"user": {"org": 2, "id": 1}})


def test_roles_and_the_live_build() -> None:
    route = Route("m", {"old": 90, "new": 10, "gone": 0}, shadow="copy")
    assert [route.role(c) for c in ("old", "new", "gone", "copy", "never")] == [
        "live", "canary", "retired", "shadow", "retired"]
    assert route.live == "old" and route.members() == {"old", "new", "copy"}
    assert Route("m", {}).live is None and Route("m", {}).members() == set()


@pytest.mark.parametrize(("split", "message"), [
    ({}, "at least one build"),
    ({"a": 90}, "sum to 90, not 100"),
    ({"a": 60, "b": 60}, "sum to 120, not 100"),
    ({"a": 101, "b": -1}, "a whole percent from 0 to 100"),
    ({"a": True}, "a whole percent"),
])
def test_a_split_is_whole_percents_summing_to_100(split: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_split(split)
    assert check_split({"a": 0, "b": 100}) == {"a": 0, "b": 100}


def test_shares_left_after_a_stop_are_rescaled_to_100() -> None:
    assert _rescaled({"a": 60, "b": 20}) == {"a": 75, "b": 25}
    assert sum(_rescaled({"a": 1, "b": 1, "c": 1}).values()) == 100
    assert _rescaled({}) == {} and _rescaled({"a": 0}) == {}
