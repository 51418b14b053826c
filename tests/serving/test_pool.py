"""The gateway's replica connections and pool against scripted replicas on real Unix sockets (fault injection)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from serving.platform.pool import NoFreeReplica, Pool, ReplicaDown, ReplicaHandle, ReplicaTimeout
from serving.replica import EXPIRED, HEADER, OK, START_BY, frame

FAR = time.monotonic() + 3600  # a start-by deadline no test reaches

Behaviour = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close the connection


@dataclass
class Scripted:
    """A scripted replica: its handle as the gateway holds it, and how many connections it accepted."""

    handle: ReplicaHandle
    connections: list[int] = field(default_factory=list)
    expired: int = 0  # requests answered EXPIRED (read after their start-by time), as the real replica does


async def echo(payload: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(frame(OK + payload))
    return True


def slow_by(seconds: float) -> Behaviour:
    async def behaviour(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(seconds)
        return await echo(payload, writer)

    return behaviour


@contextlib.asynccontextmanager
async def replicas(tmp_path: Path, *behaviours: Behaviour) -> AsyncIterator[list[Scripted]]:
    """One Unix-socket server per behaviour (replica ``r<i>``); connections and servers are closed on the way out."""
    servers: list[asyncio.AbstractServer] = []
    scripted: list[Scripted] = []
    try:
        for i, behaviour in enumerate(behaviours):
            path = tmp_path / f"r{i}.sock"
            s = Scripted(ReplicaHandle("crn:dep", i, f"r{i}", str(path)))

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            behaviour: Behaviour = behaviour, s: Scripted = s) -> None:
                s.connections.append(1)
                try:
                    while True:
                        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                        request = await reader.readexactly(size)
                        (start_by,) = START_BY.unpack_from(request)
                        if time.monotonic() > start_by:
                            s.expired += 1
                            writer.write(frame(EXPIRED))
                        elif not await behaviour(request[START_BY.size:], writer):
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
            answers = [await r.handle.call(b'{"i":%d}' % i, 5, FAR) for i in range(20)]
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
            assert await r.handle.call(b"ab", 5, FAR) == OK + b"ab" * 50
            assert await r.handle.call(b"cd", 5, FAR) == OK + b"cd" * 50

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
                await r.handle.call(b"x", 5, FAR)
            assert await r.handle.call(b"y", 5, FAR) == OK + b"y"
            assert len(r.connections) == 2

    asyncio.run(main())


def test_unasked_data_after_an_answer_closes_the_connection(tmp_path: Path) -> None:
    async def chatty(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(frame(OK + payload) + frame(OK + b"extra"))
        return True

    async def main() -> None:
        async with replicas(tmp_path, chatty) as (r,):
            assert await r.handle.call(b"1", 5, FAR) == OK + b"1"  # its own answer still counts
            assert await r.handle.call(b"2", 5, FAR) == OK + b"2"  # on a new connection, never the stale "extra"
            assert len(r.connections) == 2

    asyncio.run(main())


def test_no_answer_in_time_is_a_timeout(tmp_path: Path) -> None:
    async def silent(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return True

    async def main() -> None:
        async with replicas(tmp_path, silent) as (r,):
            with pytest.raises(ReplicaTimeout):
                await r.handle.call(b"x", 0.2, FAR)

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
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.5)) as (r,):
            pool = pool_of(r)
            busy = asyncio.create_task(pool.call(b"a", busy_timeout=1, request_timeout=5))
            await asyncio.sleep(0.05)
            with pytest.raises(NoFreeReplica):
                await pool.call(b"b", busy_timeout=0.1, request_timeout=5)
            assert (await busy)[0] == OK + b"a"
            assert (await pool.call(b"c", busy_timeout=1, request_timeout=5))[0] == OK + b"c"  # free again

    asyncio.run(main())


def test_sequential_calls_stay_on_the_warm_replica_and_concurrent_ones_use_both(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.05), slow_by(0.05)) as scripted:
            pool = pool_of(*scripted)
            one_at_a_time = {(await pool.call(b"s", busy_timeout=1, request_timeout=5))[1] for _ in range(6)}
            assert len(one_at_a_time) == 1
            together = await asyncio.gather(*(pool.call(b"c", busy_timeout=2, request_timeout=5) for _ in range(6)))
            assert {replica for _, replica in together} == {"r0", "r1"}

    asyncio.run(main())


# -- a second request queued on a busy replica (fast models only) ------------------------------------------------
FAST = 0.0005  # a model answering in 0.5 ms on average: the pool queues behind busy replicas


def test_the_pool_learns_the_answer_time_and_queues_only_for_fast_models(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.01)) as (r,):
            pool = pool_of(r)
            assert pool.service_s is None and not pool.pipelining  # nothing measured yet: never queue
            for _ in range(3):
                await pool.call(b"x", busy_timeout=1, request_timeout=5)
            assert pool.service_s is not None and pool.service_s >= 0.01 and not pool.pipelining
            pool.service_s = FAST
            assert pool.pipelining

    asyncio.run(main())


def test_a_fast_model_gets_one_more_request_queued_on_its_busy_replica(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.2)) as (r,):
            pool = pool_of(r)
            pool.service_s = FAST
            calls = [asyncio.create_task(pool.call(b"%d" % i, busy_timeout=5, request_timeout=5)) for i in range(3)]
            await asyncio.sleep(0.05)
            # two sent on the one connection (the second waits in the socket, not in the gateway), the third waits
            assert r.handle.outstanding == 2 and len(pool._waiters) == 1
            answers = await asyncio.gather(*calls)
            assert [a for a, _ in answers] == [OK + b"0", OK + b"1", OK + b"2"]  # in order, each its own answer
            assert len(r.connections) == 1 and r.handle.outstanding == 0

    asyncio.run(main())


def test_a_slow_model_never_queues_behind_a_busy_replica(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.2)) as (r,):
            pool = pool_of(r)
            pool.service_s = 0.2
            calls = [asyncio.create_task(pool.call(b"%d" % i, busy_timeout=5, request_timeout=5)) for i in range(2)]
            await asyncio.sleep(0.05)
            assert r.handle.outstanding == 1 and len(pool._waiters) == 1
            assert [a for a, _ in await asyncio.gather(*calls)] == [OK + b"0", OK + b"1"]

    asyncio.run(main())


def test_nothing_is_queued_behind_a_request_already_running_long(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.3)) as (r,):
            pool = pool_of(r)
            pool.service_s = FAST
            first = asyncio.create_task(pool.call(b"a", busy_timeout=5, request_timeout=5))
            await asyncio.sleep(0.05)  # "a" has run 50 ms, 100x the average: the next request waits in the gateway
            later = asyncio.create_task(pool.call(b"b", busy_timeout=5, request_timeout=5))
            await asyncio.sleep(0.05)
            assert r.handle.outstanding == 1 and len(pool._waiters) == 1
            assert (await first)[0] == OK + b"a" and (await later)[0] == OK + b"b"

    asyncio.run(main())


def test_an_idle_replica_is_used_before_queueing_behind_a_busy_one(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.2), slow_by(0.2)) as scripted:
            pool = pool_of(*scripted)
            pool.service_s = FAST
            calls = [asyncio.create_task(pool.call(b"x", busy_timeout=5, request_timeout=5)) for _ in range(2)]
            await asyncio.sleep(0.05)
            assert [s.handle.outstanding for s in scripted] == [1, 1]
            assert {replica for _, replica in await asyncio.gather(*calls)} == {"r0", "r1"}

    asyncio.run(main())


def test_a_queued_request_not_started_by_its_busy_deadline_is_no_free_replica(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.4)) as (r,):
            pool = pool_of(r)
            pool.service_s = FAST  # fast on average, yet this request runs long
            first = asyncio.create_task(pool.call(b"a", busy_timeout=5, request_timeout=5))
            queued = asyncio.create_task(pool.call(b"b", busy_timeout=0.1, request_timeout=5))
            await asyncio.sleep(0.05)
            assert r.handle.outstanding == 2
            with pytest.raises(NoFreeReplica):  # queued behind "a", which outlasts this one's 0.1 s busy timeout
                await queued
            assert r.expired == 1  # the replica answered EXPIRED without running it
            assert (await first)[0] == OK + b"a"
            assert (await pool.call(b"c", busy_timeout=1, request_timeout=5))[0] == OK + b"c"
            assert r.handle.outstanding == 0 and r.handle.alive

    asyncio.run(main())


def test_both_requests_on_a_replica_that_dies_go_to_another(tmp_path: Path) -> None:
    async def die_later(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1)
        return False  # hangs up without answering, the queued request unread

    async def main() -> None:
        async with replicas(tmp_path, die_later, slow_by(0.01)) as (dying, alive):
            pool = pool_of(dying)
            pool.service_s = FAST
            calls = [asyncio.create_task(pool.call(b"%d" % i, busy_timeout=5, request_timeout=5)) for i in range(2)]
            await asyncio.sleep(0.05)
            assert dying.handle.outstanding == 2
            pool.add(alive.handle)
            pool.mark_up(alive.handle)
            answers = await asyncio.gather(*calls)
            assert answers == [(OK + b"0", "r1"), (OK + b"1", "r1")]
            assert not dying.handle.alive and dying.handle.outstanding == 0 and alive.handle.outstanding == 0

    asyncio.run(main())


def test_a_cancelled_waiter_gives_its_slot_to_the_next(tmp_path: Path) -> None:
    async def main() -> None:
        async with replicas(tmp_path, slow_by(0.1)) as (r,):
            pool = pool_of(r)
            first = asyncio.create_task(pool.call(b"a", busy_timeout=5, request_timeout=5))
            await asyncio.sleep(0.02)
            gone = asyncio.create_task(pool.call(b"b", busy_timeout=5, request_timeout=5))
            last = asyncio.create_task(pool.call(b"c", busy_timeout=5, request_timeout=5))
            await asyncio.sleep(0.02)
            gone.cancel()  # the client went away while waiting for a replica
            assert (await first)[0] == OK + b"a"
            assert (await last)[0] == OK + b"c"
            assert gone.cancelled() and r.handle.outstanding == 0 and not pool._waiters

    asyncio.run(main())
