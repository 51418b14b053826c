"""Gateway-side replica connections and the per-deployment pool that balances over them.

Each replica serves one request at a time, so the pool hands out *free* replicas; a request waits (up to the
busy timeout) when all are busy, then gets 429 like CML's ``model.busy``. A replica that dies mid-request is
taken out of rotation and the request is retried on another one, so a crash loses no client call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from serving.replica import HEADER, MAX_FRAME


class ReplicaDown(Exception):
    pass


class NoFreeReplica(Exception):
    pass


class ReplicaTimeout(Exception):
    """The model did not answer within the request timeout; the replica is recycled."""


class _FrameProtocol(asyncio.Protocol):
    """One replica connection: writes request frames, hands each answer frame to the caller waiting for it.

    A protocol rather than asyncio streams: one future per exchange instead of a drain() and two readexactly()
    coroutines, which is measurable on the gateway's hot path."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[bytes] | None = None
        self.closed = False
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if len(buf) < HEADER.size:
            return
        (size,) = HEADER.unpack_from(buf)
        if size > MAX_FRAME or size == 0:
            self._fail(ReplicaDown(f"bad answer frame ({size} bytes)"))
            self.close()
        elif len(buf) >= HEADER.size + size:
            answer = bytes(buf[HEADER.size:HEADER.size + size])
            del buf[:HEADER.size + size]
            waiter, self.waiter = self.waiter, None
            if waiter is None or waiter.done() or buf:
                # An answer nobody asked for, or more than one: the exchange is out of step; never reuse it.
                self._fail(ReplicaDown("unexpected data from the replica"))
                self.close()
            if waiter is not None and not waiter.done():
                waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ReplicaDown(str(exc) if exc else "the replica closed the connection"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
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
    health_port: int
    alive: bool = False
    in_queue: bool = False  # at most one free-queue entry per replica: two would share one connection
    _conn: _FrameProtocol | None = field(default=None, repr=False)

    async def call(self, payload: bytes, timeout: float) -> bytes:
        """One answer frame: its status byte, then its body."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):  # one timer for the whole exchange
                conn = self._conn
                if conn is None or conn.closed:
                    _, conn = await loop.create_unix_connection(_FrameProtocol, self.socket)
                    self._conn = conn
                assert conn.transport is not None
                waiter: asyncio.Future[bytes] = loop.create_future()
                conn.waiter = waiter
                conn.transport.write(HEADER.pack(len(payload)) + payload)
                return await waiter
        except TimeoutError as e:
            self.disconnect()
            raise ReplicaTimeout(f"no answer within {timeout:g}s") from e
        except (OSError, ConnectionError) as e:
            self.disconnect()
            raise ReplicaDown(str(e) or type(e).__name__) from e
        except BaseException:
            # ReplicaDown from the protocol, a cancellation: never leave a half-read answer for the next caller.
            self.disconnect()
            raise

    def disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


class Pool:
    def __init__(self, deployment_crn: str, on_stuck: Callable[[ReplicaHandle], None] | None = None) -> None:
        self.deployment_crn = deployment_crn
        self.replicas: list[ReplicaHandle] = []
        # Most recently freed first: under light load one warm replica (CPU caches, page cache) serves, instead
        # of alternating onto one that went cold; under load every replica is busy anyway. Waiting requests
        # are still served first come, first served (the queue's getters are FIFO whatever its order).
        self._free: asyncio.Queue[ReplicaHandle] = asyncio.LifoQueue()
        self._waiting = 0  # requests blocked in _free.get()
        self.on_stuck = on_stuck

    def add(self, handle: ReplicaHandle) -> None:
        self.replicas.append(handle)

    def _release(self, handle: ReplicaHandle) -> None:
        if handle.alive and not handle.in_queue:
            handle.in_queue = True
            self._free.put_nowait(handle)

    def mark_up(self, handle: ReplicaHandle) -> None:
        handle.alive = True
        self._release(handle)

    def mark_down(self, handle: ReplicaHandle) -> None:
        handle.alive = False
        handle.disconnect()

    @property
    def alive_count(self) -> int:
        return sum(1 for r in self.replicas if r.alive)

    async def call(self, payload: bytes, *, busy_timeout: float, request_timeout: float) -> tuple[bytes, str]:
        """Send one request to a free replica, retrying on others if one dies; (response frame, replica id)."""
        deadline = time.monotonic() + busy_timeout
        attempts = 0
        while True:
            if not self._waiting and not self._free.empty():
                handle = self._free.get_nowait()  # the common case: no timer, no task switch
            else:  # queue behind the requests already waiting (first come, first served)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NoFreeReplica(self.deployment_crn)
                self._waiting += 1
                try:
                    async with asyncio.timeout(remaining):
                        handle = await self._free.get()
                except TimeoutError:
                    raise NoFreeReplica(self.deployment_crn) from None
                finally:
                    self._waiting -= 1
            handle.in_queue = False
            if not handle.alive:
                continue  # went down while queued; the supervisor re-adds it when restarted
            try:
                result = await handle.call(payload, request_timeout)
            except ReplicaDown:
                # The replica died before answering: the request goes to another one.
                self.mark_down(handle)
                attempts += 1
                if attempts > len(self.replicas) + 2:
                    raise
                continue
            except ReplicaTimeout:
                self.mark_down(handle)
                if self.on_stuck is not None:
                    self.on_stuck(handle)  # the supervisor restarts it; it rejoins when healthy
                raise
            except BaseException:
                self._release(handle)
                raise
            self._release(handle)
            return result, handle.replica_id
