"""AdaptivePoll: a replica polls for its next request within an adaptive budget, then sleeps."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from serving.poll import AdaptivePoll

MAX = 0.05  # generous times: the test must not depend on how fast the machine is
START = 0.01


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def send_later(sock: socket.socket, delay: float) -> threading.Thread:
    t = threading.Timer(delay, sock.sendall, args=(b"x",))
    t.start()
    return t


def test_off_never_waits_or_counts(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    p = AdaptivePoll(a.fileno(), 0)
    t0 = time.perf_counter()
    p.wait()  # nothing to read, yet it returns: the caller's recv() does the blocking
    assert time.perf_counter() - t0 < 0.5
    assert (p.counts.polled, p.counts.slept, p.budget_s) == (0, 0, 0.0)


def test_a_short_wait_grows_the_budget_and_the_next_request_is_caught_polling(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    p = AdaptivePoll(a.fileno(), MAX, START)
    assert p.budget_s == 0.0  # never polls before it has seen requests come close together
    timer = send_later(b, 0.005)
    p.wait()
    timer.join()
    assert a.recv(1) == b"x"
    assert (p.counts.polled, p.counts.slept) == (0, 1) and p.budget_s == START
    timer = send_later(b, 0.02)  # after the budget: polling gives up, sleeps, and learns to poll longer
    p.wait()
    timer.join()
    a.recv(1)
    assert p.counts.slept == 2 and p.budget_s == 2 * START
    timer = send_later(b, 0.002)  # well within the budget now
    p.wait()
    timer.join()
    assert a.recv(1) == b"x"
    assert (p.counts.polled, p.counts.slept) == (1, 2) and p.budget_s == 2 * START  # success keeps the budget


def test_budget_is_capped_at_the_maximum(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    p = AdaptivePoll(a.fileno(), MAX, START)
    p.budget_s = 0.04
    timer = send_later(b, 0.045)  # after the budget, before the maximum: grow, but not past it
    p.wait()
    timer.join()
    a.recv(1)
    assert p.counts.slept == 1 and p.budget_s == MAX


def test_long_idle_gaps_shrink_the_budget_to_nothing(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    p = AdaptivePoll(a.fileno(), MAX, START)
    p.budget_s = 0.03
    budgets = []
    for _ in range(3):
        timer = send_later(b, 0.12)  # longer than the maximum: polling was wasted
        p.wait()
        timer.join()
        a.recv(1)
        budgets.append(p.budget_s)
    assert budgets == [0.015, 0.0, 0.0]  # halved, then below the start value: off until requests come close again
    assert (p.counts.polled, p.counts.slept) == (0, 3)


def test_a_closed_peer_ends_the_wait(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    p = AdaptivePoll(a.fileno(), MAX, START)
    p.budget_s = MAX
    threading.Timer(0.01, b.shutdown, args=(socket.SHUT_RDWR,)).start()
    p.wait()
    assert a.recv(1) == b""  # the replica's recv then sees the end of the connection


def test_bad_times_are_refused() -> None:
    with pytest.raises(ValueError):
        AdaptivePoll(0, -1)
    with pytest.raises(ValueError):
        AdaptivePoll(0, 0.001, 0)
