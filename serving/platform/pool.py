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

from serving.replica import HEADER, MAX_FRAME


class ReplicaDown(Exception):
    pass


class NoFreeReplica(Exception):
    pass


class ReplicaTimeout(Exception):
    """The model did not answer within the request timeout; the replica is recycled."""


@dataclass(eq=False)
class ReplicaHandle:
    deployment_crn: str
    index: int
    replica_id: str
    socket: str
    health_port: int
    alive: bool = False
    in_queue: bool = False  # at most one free-queue entry per replica: two would share one connection
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def call(self, payload: bytes, timeout: float) -> bytes:
        """One answer frame: its status byte, then its body."""
        try:
            async with asyncio.timeout(timeout):  # one timer for the whole exchange, not one per read
                if self._writer is None or self._writer.is_closing():
                    self._reader, self._writer = await asyncio.open_unix_connection(self.socket)
                assert self._reader is not None
                self._writer.write(HEADER.pack(len(payload)) + payload)
                await self._writer.drain()
                (size,) = HEADER.unpack(await self._reader.readexactly(HEADER.size))
                if size > MAX_FRAME or size == 0:
                    raise ReplicaDown(f"bad answer frame ({size} bytes)")
                return await self._reader.readexactly(size)
        except TimeoutError as e:
            self.disconnect()
            raise ReplicaTimeout(f"no answer within {timeout:g}s") from e
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as e:
            self.disconnect()
            raise ReplicaDown(str(e) or type(e).__name__) from e
        except BaseException:
            # Never leave a half-read answer on the connection for the next caller.
            self.disconnect()
            raise

    def disconnect(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Pool:
    def __init__(self, deployment_crn: str, on_stuck: Callable[[ReplicaHandle], None] | None = None) -> None:
        self.deployment_crn = deployment_crn
        self.replicas: list[ReplicaHandle] = []
        self._free: asyncio.Queue[ReplicaHandle] = asyncio.Queue()
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
