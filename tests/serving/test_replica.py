"""The replica's side of the frame protocol, over a real socket pair: start-by deadlines, answers, bad frames,
health checks."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from serving.replica import ERROR, EXPIRED, HEADER, HEALTH, OK, START_BY, Replica


@pytest.fixture
def served() -> Iterator[tuple[socket.socket, list[Any], Replica]]:
    """The gateway's end of a connection to a replica whose model records its inputs."""
    seen: list[Any] = []

    def model(args: Any) -> Any:
        seen.append(args)
        if args.get("fail"):
            raise RuntimeError("model failure")
        return {"echo": args}

    replica = Replica({"replica_id": "r-test", "poll_us": 200})
    replica.fn = model
    gateway, ours = socket.socketpair()
    thread = threading.Thread(target=replica.serve_connection, args=(ours,), daemon=True)
    thread.start()
    with gateway:
        yield gateway, seen, replica
        gateway.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    assert not thread.is_alive()


def send(sock: socket.socket, args: Any, start_by: float) -> None:
    body = START_BY.pack(start_by) + orjson.dumps(args)
    sock.sendall(HEADER.pack(len(body)) + body)


def answer(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    head = sock.recv(HEADER.size, socket.MSG_WAITALL)
    (size,) = HEADER.unpack(head)
    return sock.recv(size, socket.MSG_WAITALL)


def test_a_request_within_its_deadline_is_answered(served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, seen, replica = served
    send(gateway, {"x": 1}, time.monotonic() + 60)
    out = answer(gateway)
    assert out[:1] == OK
    body = orjson.loads(out[1:])
    assert body["success"] is True and body["ReplicaID"] == "r-test"
    assert body["response"] == {"echo": {"x": 1}}  # (the model is not wrapped by @model_metrics here)
    assert seen == [{"x": 1}] and replica.served == 1


def test_a_request_past_its_start_by_time_is_expired_and_not_run(
        served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, seen, replica = served
    send(gateway, {"late": True}, time.monotonic() - 0.001)
    send(gateway, {"x": 2}, time.monotonic() + 60)  # the connection goes on
    assert answer(gateway) == EXPIRED
    assert answer(gateway)[:1] == OK
    assert seen == [{"x": 2}] and replica.served == 1


def test_a_model_exception_is_an_error_frame_with_an_id(served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, _, _ = served
    send(gateway, {"fail": True}, time.monotonic() + 60)
    out = answer(gateway)
    assert out[:1] == ERROR
    failure = orjson.loads(out[1:])
    assert failure["replica"] == "r-test" and len(failure["error_id"]) == 16 and "model failure" not in out.decode()


def test_a_frame_too_short_for_its_deadline_closes_the_connection(
        served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, seen, _ = served
    gateway.sendall(HEADER.pack(3) + b"abc")
    gateway.settimeout(5)
    assert gateway.recv(1) == b""  # closed, nothing run
    assert seen == []


def test_waits_for_requests_are_counted(served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, _, replica = served
    for i in range(5):
        send(gateway, {"i": i}, time.monotonic() + 60)
        assert answer(gateway)[:1] == OK
    counts = replica.poll_counts
    assert counts.polled + counts.slept >= 5  # each request was waited for, by polling or asleep


def ask_health(sock: socket.socket) -> dict[str, Any]:
    sock.sendall(HEADER.pack(len(HEALTH)) + HEALTH)
    out = answer(sock)
    assert out[:1] == OK
    return dict(orjson.loads(out[1:]))


def test_a_health_frame_is_answered_and_the_connection_goes_on(
        served: tuple[socket.socket, list[Any], Replica]) -> None:
    gateway, seen, _ = served
    send(gateway, {"x": 1}, time.monotonic() + 60)
    assert answer(gateway)[:1] == OK
    h = ask_health(gateway)
    assert h["status"] == "ok" and h["replica"] == "r-test" and h["pid"] == os.getpid() and h["served"] == 1
    assert h["poll"]["max_us"] == 200 and h["poll"]["polled"] + h["poll"]["slept"] >= 1
    send(gateway, {"x": 2}, time.monotonic() + 60)
    assert answer(gateway)[:1] == OK
    assert seen == [{"x": 1}, {"x": 2}]  # the health check ran nothing


def test_health_is_answered_while_a_prediction_runs() -> None:
    started, release = threading.Event(), threading.Event()

    def model(args: Any) -> Any:
        started.set()
        release.wait(10)
        return args

    replica = Replica({"replica_id": "r-busy", "poll_us": 0})
    replica.fn = model
    pairs = [socket.socketpair() for _ in range(2)]
    threads = [threading.Thread(target=replica.serve_connection, args=(ours,), daemon=True) for _, ours in pairs]
    for t in threads:
        t.start()
    (predicting, _), (checking, _) = pairs
    try:
        send(predicting, {"x": 1}, time.monotonic() + 60)
        assert started.wait(5)
        assert ask_health(checking)["served"] == 0  # answered with the prediction still running
        release.set()
        assert answer(predicting)[:1] == OK
        assert ask_health(checking)["served"] == 1
    finally:
        release.set()
        for sock, _ in pairs:
            sock.close()
    for t in threads:
        t.join(5)
        assert not t.is_alive()
