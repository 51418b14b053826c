"""Gateway-side replica connections and the per-deployment pool that balances over them.

Each replica predicts one request at a time. The pool hands a request to an idle replica when there is one; when
every replica is busy and the model is fast (answers in under :data:`PIPELINE_MAX_S` on average, and the busy
replica's request started less than that ago), it queues one more request on that replica's connection, so the
replica starts it the moment it has answered instead of idling while its answer travels to the gateway and the
next request comes back (the round trip through the gateway costs as much as a small model's predict).
Otherwise a request waits, first come first served, until a replica frees up; if it cannot start within the busy
timeout it gets 429 like CML's ``model.busy`` -- a queued request carries that deadline, and the replica answers
EXPIRED instead of starting it late. A replica that dies mid-request is taken out of rotation and its requests
are retried on another one, so a crash loses no client call.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from serving.replica import EXPIRED, HEADER, HEALTH, MAX_FRAME, OK, START_BY

#: A second request is queued on a busy replica only for models whose average answer time is below this: for
#: them the gateway round trip is a large share of each request; for slower ones it is not worth making a request
#: wait behind another instead of taking whichever replica frees up first.
PIPELINE_MAX_S = 0.002
_EWMA_WEIGHT = 0.1
_tick = itertools.count()  # orders replicas by when they last became idle (most recent first)


class ReplicaDown(Exception):
    pass


class NoFreeReplica(Exception):
    pass


class ReplicaTimeout(Exception):
    """The model did not answer within the request timeout; the replica is recycled."""


class _FrameProtocol(asyncio.Protocol):
    """One replica connection: writes request frames, hands each answer frame to the caller waiting for it (the
    replica answers in order, so the callers wait in a FIFO).

    A protocol rather than asyncio streams: one future per exchange instead of a drain() and two readexactly()
    coroutines, which is measurable on the gateway's hot path."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiters: collections.deque[asyncio.Future[bytes]] = collections.deque()
        self.closed = False
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= HEADER.size:
            (size,) = HEADER.unpack_from(buf)
            if size > MAX_FRAME or size == 0:
                self._fail(ReplicaDown(f"bad answer frame ({size} bytes)"))
                self.close()
                return
            if len(buf) < HEADER.size + size:
                return
            answer = bytes(buf[HEADER.size:HEADER.size + size])
            del buf[:HEADER.size + size]
            if not self.waiters:
                # An answer nobody asked for: the exchange is out of step; never reuse the connection.
                self._fail(ReplicaDown("unexpected data from the replica"))
                self.close()
                return
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ReplicaDown(str(exc) if exc else "the replica closed the connection"))

    def _fail(self, exc: Exception) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass(eq=False)
class ReplicaHandle:
    deployment_crn: str
    index: int
    replica_id: str
    socket: str
    alive: bool = False
    outstanding: int = 0  # requests sent and not yet answered (at most 2: see Pool)
    idle_since: int = 0  # _tick when it last became idle
    busy_since: float = 0.0  # monotonic time its oldest outstanding request was sent
    _conn: _FrameProtocol | None = field(default=None, repr=False)
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def call(self, payload: bytes, timeout: float, start_by: float) -> bytes:
        """One answer frame: its status byte, then its body. ``start_by`` (``time.monotonic()``, which is the
        same clock in every process) is when the replica must have started it, else it answers EXPIRED."""
        loop = asyncio.get_running_loop()
        conn: _FrameProtocol | None = None
        try:
            async with asyncio.timeout(timeout):  # one timer for the whole exchange
                conn = await self._connection()
                assert conn.transport is not None
                waiter: asyncio.Future[bytes] = loop.create_future()
                conn.waiters.append(waiter)
                conn.transport.write(HEADER.pack(START_BY.size + len(payload)) + START_BY.pack(start_by) + payload)
                return await waiter
        except TimeoutError as e:
            self._drop(conn)
            raise ReplicaTimeout(f"no answer within {timeout:g}s") from e
        except (OSError, ConnectionError) as e:
            self._drop(conn)
            raise ReplicaDown(str(e) or type(e).__name__) from e
        except BaseException:
            # ReplicaDown from the protocol, a cancellation: never leave a half-read answer for the next caller.
            self._drop(conn)
            raise

    async def _connection(self) -> _FrameProtocol:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        async with self._connecting:  # a second request queued while the first connects shares its connection
            conn = self._conn
            if conn is None or conn.closed:
                _, conn = await asyncio.get_running_loop().create_unix_connection(_FrameProtocol, self.socket)
                self._conn = conn
            return conn

    def _drop(self, conn: _FrameProtocol | None) -> None:
        """Close the connection an exchange failed on (its other exchange fails too and is retried), but not a
        newer one a retry has opened since."""
        if conn is not None:
            conn.close()
            if self._conn is conn:
                self._conn = None

    def disconnect(self) -> None:
        self._drop(self._conn)


async def replica_health(socket_path: str, timeout: float = 2.0) -> dict[str, Any]:
    """The replica's answer to a HEALTH frame on a connection of its own (never one a prediction may be queued
    on). Raises OSError while nothing listens, EOFError or ValueError for a bad answer, TimeoutError."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(socket_path)
        try:
            writer.write(HEADER.pack(len(HEALTH)) + HEALTH)
            (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
            if size == 0 or size > MAX_FRAME:
                raise ValueError(f"bad answer frame ({size} bytes)")
            answer = await reader.readexactly(size)
        finally:
            writer.close()
    if answer[:1] != OK:
        raise ValueError(f"health check answered with status {answer[:1]!r}")
    health = json.loads(answer[1:])
    if not isinstance(health, dict):
        raise ValueError("health check answer is not a JSON object")
    return health


class Pool:
    def __init__(self, deployment_crn: str, on_stuck: Callable[[ReplicaHandle], None] | None = None) -> None:
        self.deployment_crn = deployment_crn
        self.replicas: list[ReplicaHandle] = []
        self._waiters: collections.deque[asyncio.Future[ReplicaHandle]] = collections.deque()
        self.service_s: float | None = None  # moving average of answer times of requests sent to idle replicas
        self.on_stuck = on_stuck

    def add(self, handle: ReplicaHandle) -> None:
        self.replicas.append(handle)

    def mark_up(self, handle: ReplicaHandle) -> None:
        handle.alive = True
        handle.idle_since = next(_tick)
        self._wake()

    def mark_down(self, handle: ReplicaHandle) -> None:
        handle.alive = False
        handle.disconnect()

    @property
    def alive_count(self) -> int:
        return sum(1 for r in self.replicas if r.alive)

    @property
    def pipelining(self) -> bool:
        return self.service_s is not None and self.service_s < PIPELINE_MAX_S

    def _pick(self) -> ReplicaHandle | None:
        """An idle replica, the most recently used one first (under light load one warm replica serves instead of
        alternating onto one that went cold); else, for a fast model, a busy one with nothing queued whose
        request started less than PIPELINE_MAX_S ago (not behind one that is running long), the one busy the
        longest first (it should answer first)."""
        idle: ReplicaHandle | None = None
        busy: ReplicaHandle | None = None
        recent = time.monotonic() - PIPELINE_MAX_S
        for h in self.replicas:
            if not h.alive:
                continue
            if h.outstanding == 0:
                if idle is None or h.idle_since > idle.idle_since:
                    idle = h
            elif h.outstanding == 1 and h.busy_since > recent and (busy is None or h.busy_since < busy.busy_since):
                busy = h
        if idle is not None:
            return idle
        return busy if self.pipelining else None

    def _take(self, handle: ReplicaHandle) -> None:
        if handle.outstanding == 0:
            handle.busy_since = time.monotonic()
        handle.outstanding += 1

    def _wake(self) -> None:
        """Hand free slots to waiting requests, first come first served."""
        while self._waiters:
            handle = self._pick()
            if handle is None:
                return
            waiter = self._waiters.popleft()
            if not waiter.done():  # else it timed out meanwhile
                self._take(handle)
                waiter.set_result(handle)

    async def _acquire(self, deadline: float) -> ReplicaHandle:
        if not self._waiters:
            handle = self._pick()
            if handle is not None:  # the common case: no timer, no task switch
                self._take(handle)
                return handle
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoFreeReplica(self.deployment_crn)
        waiter: asyncio.Future[ReplicaHandle] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(remaining):
                return await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return waiter.result()  # granted just as the timer fired: it got its replica in time
            raise NoFreeReplica(self.deployment_crn) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._done(waiter.result())  # cancelled after being granted a replica: give it back
            raise

    @property
    def busy(self) -> bool:
        """Calls are in flight or waiting for a replica."""
        return bool(self._waiters) or any(h.outstanding for h in self.replicas)

    async def drain(self, timeout: float) -> bool:
        """Wait until no call is in flight or waiting (the pool gets no new ones: its deployment left the
        traffic); False if some still were after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _done(self, handle: ReplicaHandle) -> None:
        handle.outstanding -= 1
        if handle.outstanding == 0:
            handle.idle_since = next(_tick)
        else:
            handle.busy_since = time.monotonic()  # an approximation: its queued request started about now
        self._wake()

    def _observe(self, seconds: float) -> None:
        self.service_s = seconds if self.service_s is None else (
            self.service_s + _EWMA_WEIGHT * (seconds - self.service_s))

    async def call(self, payload: bytes, *, busy_timeout: float, request_timeout: float) -> tuple[bytes, str]:
        """Send one request to a replica, retrying on others if one dies; (answer frame, replica id)."""
        deadline = time.monotonic() + busy_timeout
        attempts = 0
        while True:
            handle = await self._acquire(deadline)
            alone = handle.outstanding == 1
            sent = time.monotonic()
            try:
                answer = await handle.call(payload, request_timeout, deadline)
            except ReplicaDown:
                # The replica died before answering: the request goes to another one.
                self.mark_down(handle)  # first, so the slot freed next is not handed out on it again
                self._done(handle)
                attempts += 1
                if attempts > len(self.replicas) + 2:
                    raise
                continue
            except ReplicaTimeout:
                self.mark_down(handle)
                self._done(handle)
                if self.on_stuck is not None:
                    self.on_stuck(handle)  # the supervisor restarts it; it rejoins when healthy
                raise
            except BaseException:
                self._done(handle)
                raise
            if alone:
                self._observe(time.monotonic() - sent)
            self._done(handle)
            if answer[:1] == EXPIRED:  # queued behind a request that ran past this one's busy deadline
                raise NoFreeReplica(self.deployment_crn)
            return answer, handle.replica_id
