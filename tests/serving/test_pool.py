"""The gateway's replica connections and pool against scripted replicas on real Unix sockets (fault injection)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from serving.platform.pool import NoFreeReplica, Pool, ReplicaDown, ReplicaHandle, ReplicaTimeout
from serving.replica import HEADER, OK, frame

Behaviour = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close the connection


@dataclass
class Scripted:
    """A scripted replica: its handle as the gateway holds it, and how many connections it accepted."""

    handle: ReplicaHandle
    connections: list[int] = field(default_factory=list)


async def echo(payload: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(frame(OK + payload))
    return True


@contextlib.asynccontextmanager
async def replicas(tmp_path: Path, *behaviours: Behaviour) -> AsyncIterator[list[Scripted]]:
    """One Unix-socket server per behaviour (replica ``r<i>``); connections and servers are closed on the way out."""
    servers: list[asyncio.AbstractServer] = []
    scripted: list[Scripted] = []
    try:
        for i, behaviour in enumerate(behaviours):
            path = tmp_path / f"r{i}.sock"
            s = Scripted(ReplicaHandle("crn:dep", i, f"r{i}", str(path), 0))

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            behaviour: Behaviour = behaviour, s: Scripted = s) -> None:
                s.connections.append(1)
                try:
                    while True:
                        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                        if not await behaviour(await reader.readexactly(size), writer):
                            break
                        await writer.drain()
                except asyncio.IncompleteReadError:
                    pass
                finally:
                    writer.close()

            servers.append(await asyncio.start_unix_server(serve, str(path)))
            scripted.append(s)
        yield scripted
    finally:
        for s in scripted:
            s.handle.disconnect()
        for server in servers:
            server.close()
            await server.wait_closed()


def pool_of(*scripted: Scripted) -> Pool:
    """A pool with the replicas up, freed in the order given (so the last one is handed out first)."""
    pool = Pool("crn:dep")
    for s in scripted:
        pool.add(s.handle)
        pool.mark_up(s.handle)
    return pool


def test_answers_come_back_in_order_on_one_connection(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, echo) as (r,):
            answers = [await r.handle.call(b'{"i":%d}' % i, 5) for i in range(20)]
            assert answers == [OK + b'{"i":%d}' % i for i in range(20)]
            assert len(r.connections) == 1  # kept open between calls

    asyncio.run(main())


def test_an_answer_split_over_many_writes_is_reassembled(tmp_path: Path) -> None:
    async def dribble(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        for i, byte in enumerate(frame(OK + payload * 50)):
            writer.write(bytes([byte]))
            if i % 7 == 0:
                await writer.drain()
                await asyncio.sleep(0)
        return True

    async def main() -> None:
        async with replicas(tmp_path, dribble) as (r,):
            assert await r.handle.call(b"ab", 5) == OK + b"ab" * 50
            assert await r.handle.call(b"cd", 5) == OK + b"cd" * 50

    asyncio.run(main())


def test_a_bad_frame_is_replica_down_and_the_connection_is_not_reused(tmp_path: Path) -> None:
    sent_bad = False

    async def bad_once(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal sent_bad
        if not sent_bad:
            sent_bad = True
            writer.write(HEADER.pack(0))
            return True
        return await echo(payload, writer)

    async def main() -> None:
        async with replicas(tmp_path, bad_once) as (r,):
            with pytest.raises(ReplicaDown, match="bad answer frame"):
                await r.handle.call(b"x", 5)
            assert await r.handle.call(b"y", 5) == OK + b"y"
            assert len(r.connections) == 2

    asyncio.run(main())


def test_unasked_data_after_an_answer_closes_the_connection(tmp_path: Path) -> None:
    async def chatty(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(frame(OK + payload) + frame(OK + b"extra"))
        return True

    async def main() -> None:
        async with replicas(tmp_path, chatty) as (r,):
            assert await r.handle.call(b"1", 5) == OK + b"1"  # its own answer still counts
            assert await r.handle.call(b"2", 5) == OK + b"2"  # on a new connection, never the stale "extra"
            assert len(r.connections) == 2

    asyncio.run(main())


def test_no_answer_in_time_is_a_timeout(tmp_path: Path) -> None:
    async def silent(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return True

    async def main() -> None:
        async with replicas(tmp_path, silent) as (r,):
            with pytest.raises(ReplicaTimeout):
                await r.handle.call(b"x", 0.2)

    asyncio.run(main())


def test_a_replica_closing_without_answering_sends_the_request_to_another(tmp_path: Path) -> None:
    async def hang_up(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def main() -> None:
        async with replicas(tmp_path, hang_up, echo) as (dead, alive):
            pool = pool_of(alive, dead)  # the most recently freed replica is tried first: the dead one
            answer, replica = await pool.call(b"q", busy_timeout=1, request_timeout=5)
            assert (answer, replica) == (OK + b"q", "r1")
            assert not dead.handle.alive and alive.handle.alive

    asyncio.run(main())


def test_all_replicas_busy_past_the_busy_timeout_is_no_free_replica(tmp_path: Path) -> None:
    async def slow(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.5)
        return await echo(payload, writer)

    async def main() -> None:
        async with replicas(tmp_path, slow) as (r,):
            pool = pool_of(r)
            busy = asyncio.create_task(pool.call(b"a", busy_timeout=1, request_timeout=5))
            await asyncio.sleep(0.05)
            with pytest.raises(NoFreeReplica):
                await pool.call(b"b", busy_timeout=0.1, request_timeout=5)
            assert (await busy)[0] == OK + b"a"
            assert (await pool.call(b"c", busy_timeout=1, request_timeout=5))[0] == OK + b"c"  # free again

    asyncio.run(main())


def test_sequential_calls_stay_on_the_warm_replica_and_concurrent_ones_use_both(tmp_path: Path) -> None:
    async def slow_echo(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await echo(payload, writer)

    async def main() -> None:
        async with replicas(tmp_path, slow_echo, slow_echo) as scripted:
            pool = pool_of(*scripted)
            one_at_a_time = {(await pool.call(b"s", busy_timeout=1, request_timeout=5))[1] for _ in range(6)}
            assert len(one_at_a_time) == 1
            together = await asyncio.gather(*(pool.call(b"c", busy_timeout=2, request_timeout=5) for _ in range(6)))
            assert {replica for _, replica in together} == {"r0", "r1"}

    asyncio.run(main())
