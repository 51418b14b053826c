"""Gateway-side replica connections and the per-deployment pool that balances over them.

Each replica serves one request at a time, so the pool hands out *free* replicas; a request waits (up to the
busy timeout) when all are busy, then gets 429 like CML's ``model.busy``. A replica that dies mid-request is
taken out of rotation and the request is retried on another one, so a crash loses no client call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from serving.replica import HEADER, MAX_FRAME


class ReplicaDown(Exception):
    pass


class NoFreeReplica(Exception):
    pass


@dataclass(eq=False)
class ReplicaHandle:
    deployment_crn: str
    index: int
    replica_id: str
    socket: str
    health_port: int
    alive: bool = False
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def call(self, payload: bytes, timeout: float) -> bytes:
        try:
            if self._writer is None or self._writer.is_closing():
                self._reader, self._writer = await asyncio.open_unix_connection(self.socket)
            assert self._reader is not None
            self._writer.write(HEADER.pack(len(payload)) + payload)
            await self._writer.drain()
            head = await asyncio.wait_for(self._reader.readexactly(HEADER.size), timeout)
            (size,) = HEADER.unpack(head)
            if size > MAX_FRAME:
                raise ReplicaDown("oversized frame")
            return await asyncio.wait_for(self._reader.readexactly(size), timeout)
        except (OSError, asyncio.IncompleteReadError, ConnectionError, TimeoutError) as e:
            self.disconnect()
            raise ReplicaDown(str(e) or type(e).__name__) from e

    def disconnect(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Pool:
    def __init__(self, deployment_crn: str) -> None:
        self.deployment_crn = deployment_crn
        self.replicas: list[ReplicaHandle] = []
        self._free: asyncio.Queue[ReplicaHandle] = asyncio.Queue()

    def add(self, handle: ReplicaHandle) -> None:
        self.replicas.append(handle)

    def mark_up(self, handle: ReplicaHandle) -> None:
        if not handle.alive:
            handle.alive = True
            self._free.put_nowait(handle)

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
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoFreeReplica(self.deployment_crn)
            try:
                handle = await asyncio.wait_for(self._free.get(), remaining)
            except TimeoutError:
                raise NoFreeReplica(self.deployment_crn) from None
            if not handle.alive:
                continue  # went down while queued; the supervisor re-adds it when restarted
            try:
                result = await handle.call(payload, request_timeout)
            except ReplicaDown:
                self.mark_down(handle)
                attempts += 1
                if attempts > len(self.replicas) + 2:
                    raise
                continue
            except BaseException:
                self._free.put_nowait(handle)
                raise
            self._free.put_nowait(handle)
            return result, handle.replica_id
