"""Adaptive polling before blocking: how a replica waits for its next request.

A replica that blocks in ``recv()`` as soon as it has answered lets its CPU go idle; waking it for the next request
costs tens of microseconds more than the request's own work on a virtual machine (the idle vCPU halts and the
hypervisor has to resume it), and that wake-up is paid once per request at low concurrency. Polling the socket
for a short while first keeps the CPU awake when the next request is about to come.

The budget adapts the way Linux's ``cpuidle-haltpoll`` governor adapts ``guest_halt_poll_ns``: it grows (doubling,
from ``grow_start``) while waits end soon after polling gave up, and shrinks (halving, to 0) after waits longer
than the maximum, so an idle or lightly used replica soon stops polling and burns no CPU. While polling, the
thread yields the CPU to any other runnable thread (the gateway may share the core).
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass


@dataclass
class PollCounts:
    """Waits for a request that ended while polling, and waits that went to sleep (shared by a replica's
    connections, for its health answer)."""

    polled: int = 0
    slept: int = 0


class AdaptivePoll:
    def __init__(self, fd: int, max_s: float, grow_start_s: float = 50e-6, counts: PollCounts | None = None) -> None:
        if max_s < 0 or grow_start_s <= 0:
            raise ValueError("poll times must be positive (max 0 turns polling off)")
        self.max_s = max_s
        self.grow_start_s = min(grow_start_s, max_s) if max_s else 0.0
        self.budget_s = 0.0
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        self.counts = counts if counts is not None else PollCounts()

    def wait(self) -> None:
        """Return once the socket is readable (or closed): polling within the budget, then blocking."""
        if self.max_s == 0:
            return  # polling off: the caller's recv() blocks as before
        started = time.perf_counter()
        if self.budget_s > 0:
            deadline = started + self.budget_s
            while True:
                if self._poll.poll(0):
                    self.counts.polled += 1
                    return
                if time.perf_counter() >= deadline:
                    break
                os.sched_yield()
        self._poll.poll()  # sleep until readable
        self.counts.slept += 1
        waited = time.perf_counter() - started
        if waited <= self.max_s:
            # The request came soon after polling gave up: a longer budget would have caught it.
            self.budget_s = min(self.max_s, max(self.budget_s * 2, self.grow_start_s))
        else:
            # A long idle gap: polling was wasted; poll less (down to not at all).
            self.budget_s /= 2
            if self.budget_s < self.grow_start_s:
                self.budget_s = 0.0
