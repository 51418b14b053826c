"""The gateway's replica connections and pool against scripted replicas on real Unix sockets (fault injection)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from serving.platform.pool import NoFreeReplica, Pool, ReplicaDown, ReplicaHandle, ReplicaTimeout
from serving.replica import HEADER, OK, frame

Behaviour = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close the connection


async def serve(path: Path, behaviour: Behaviour, connections: list[int]) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
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

    return await asyncio.start_unix_server(handle, str(path))


def handle_for(path: Path, index: int = 0) -> ReplicaHandle:
    return ReplicaHandle("crn:dep", index, f"r{index}", str(path), 0)


async def echo(payload: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(frame(OK + payload))
    return True


def test_answers_come_back_in_order_on_one_connection(tmp_path: Path) -> None:
    async def main() -> None:
        connections: list[int] = []
        server = await serve(tmp_path / "r.sock", echo, connections)
        handle = handle_for(tmp_path / "r.sock")
        answers = [await handle.call(b'{"i":%d}' % i, 5) for i in range(20)]
        assert answers == [OK + b'{"i":%d}' % i for i in range(20)]
        assert len(connections) == 1  # kept open between calls
        handle.disconnect()
        server.close()

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
        server = await serve(tmp_path / "r.sock", dribble, [])
        handle = handle_for(tmp_path / "r.sock")
        assert await handle.call(b"ab", 5) == OK + b"ab" * 50
        assert await handle.call(b"cd", 5) == OK + b"cd" * 50
        handle.disconnect()
        server.close()

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
        connections: list[int] = []
        server = await serve(tmp_path / "r.sock", bad_once, connections)
        handle = handle_for(tmp_path / "r.sock")
        with pytest.raises(ReplicaDown, match="bad answer frame"):
            await handle.call(b"x", 5)
        assert await handle.call(b"y", 5) == OK + b"y"
        assert len(connections) == 2
        handle.disconnect()
        server.close()

    asyncio.run(main())


def test_unasked_data_after_an_answer_closes_the_connection(tmp_path: Path) -> None:
    async def chatty(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(frame(OK + payload) + frame(OK + b"extra"))
        return True

    async def main() -> None:
        connections: list[int] = []
        server = await serve(tmp_path / "r.sock", chatty, connections)
        handle = handle_for(tmp_path / "r.sock")
        assert await handle.call(b"1", 5) == OK + b"1"  # its own answer still counts
        assert await handle.call(b"2", 5) == OK + b"2"  # on a new connection, never the stale "extra"
        assert len(connections) == 2
        handle.disconnect()
        server.close()

    asyncio.run(main())


def test_no_answer_in_time_is_a_timeout(tmp_path: Path) -> None:
    async def silent(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return True

    async def main() -> None:
        server = await serve(tmp_path / "r.sock", silent, [])
        handle = handle_for(tmp_path / "r.sock")
        with pytest.raises(ReplicaTimeout):
            await handle.call(b"x", 0.2)
        server.close()

    asyncio.run(main())


def test_a_replica_closing_without_answering_sends_the_request_to_another(tmp_path: Path) -> None:
    async def hang_up(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def main() -> None:
        dead = await serve(tmp_path / "dead.sock", hang_up, [])
        alive = await serve(tmp_path / "alive.sock", echo, [])
        pool = Pool("crn:dep")
        first, second = handle_for(tmp_path / "dead.sock", 0), handle_for(tmp_path / "alive.sock", 1)
        for h in (second, first):  # the most recently freed replica is tried first: the dead one
            pool.add(h)
            pool.mark_up(h)
        try:
            answer, replica = await pool.call(b"q", busy_timeout=1, request_timeout=5)
            assert (answer, replica) == (OK + b"q", "r1")
            assert not first.alive and second.alive
        finally:
            second.disconnect()
            for server in (dead, alive):
                server.close()
                await server.wait_closed()

    asyncio.run(main())


def test_all_replicas_busy_past_the_busy_timeout_is_no_free_replica(tmp_path: Path) -> None:
    async def slow(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.5)
        return await echo(payload, writer)

    async def main() -> None:
        server = await serve(tmp_path / "r.sock", slow, [])
        pool = Pool("crn:dep")
        h = handle_for(tmp_path / "r.sock")
        pool.add(h)
        pool.mark_up(h)
        busy = asyncio.create_task(pool.call(b"a", busy_timeout=1, request_timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(NoFreeReplica):
            await pool.call(b"b", busy_timeout=0.1, request_timeout=5)
        assert (await busy)[0] == OK + b"a"
        assert (await pool.call(b"c", busy_timeout=1, request_timeout=5))[0] == OK + b"c"  # free again
        h.disconnect()
        server.close()

    asyncio.run(main())


def test_sequential_calls_stay_on_the_warm_replica_and_concurrent_ones_use_both(tmp_path: Path) -> None:
    async def slow_echo(payload: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await echo(payload, writer)

    async def main() -> None:
        servers = [await serve(tmp_path / f"r{i}.sock", slow_echo, []) for i in range(2)]
        pool = Pool("crn:dep")
        handles = [handle_for(tmp_path / f"r{i}.sock", i) for i in range(2)]
        for h in handles:
            pool.add(h)
            pool.mark_up(h)
        try:
            one_at_a_time = {(await pool.call(b"s", busy_timeout=1, request_timeout=5))[1] for _ in range(6)}
            assert len(one_at_a_time) == 1
            together = await asyncio.gather(*(pool.call(b"c", busy_timeout=2, request_timeout=5) for _ in range(6)))
            assert {replica for _, replica in together} == {"r0", "r1"}
        finally:
            for h in handles:
                h.disconnect()
            for server in servers:
                server.close()
                await server.wait_closed()

    asyncio.run(main())
