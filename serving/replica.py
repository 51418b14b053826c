"""A model replica: one process serving one predict function, one request at a time (as CML's replicas do).

The gateway talks to it over a Unix socket with length-prefixed JSON frames (cheaper than HTTP on the hot
path); ``GET /health`` is served over HTTP on a loopback port for supervisors and humans. Every prediction gets
a UUID: a function not decorated with ``@model_metrics`` is wrapped by the replica.

Run as ``python -m serving.replica`` with ``MLCATALOG_REPLICA_CONFIG`` (JSON) in the environment.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import secrets
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from serving import sdk

HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024 * 1024
log = logging.getLogger("mlcatalog.replica")


def encode(obj: Any) -> bytes:
    body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=_fallback)
    return HEADER.pack(len(body)) + body


def _fallback(obj: Any) -> Any:
    for attr in ("tolist", "item"):
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    return str(obj)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is too large")
    return await reader.readexactly(size)


def load_function(file: Path, function: str) -> Callable[..., Any]:
    """Import the model file as a module (its directory on sys.path, like a CML project) and return the function."""
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem.replace("-", "_"), file)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise RuntimeError(f"{file} has no function {function!r}")
    wrapped: Callable[..., Any] = sdk.model_metrics(fn)  # no-op when already decorated
    return wrapped


class Replica:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.replica_id: str = cfg["replica_id"]
        self.fn: Callable[..., Any] | None = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self.served = 0

    def predict(self, payload: bytes) -> bytes:
        assert self.fn is not None
        try:
            args = orjson.loads(payload)
            result = self.fn(args)
            self.served += 1
            return encode({"ok": True, "response": result, "replica": self.replica_id})
        except Exception:  # noqa: BLE001 - the model's own failure: logged here, an id goes to the caller
            error_id = secrets.token_hex(8)
            log.error("prediction failed (error id %s):\n%s", error_id, traceback.format_exc())
            return encode({"ok": False, "error_id": error_id, "replica": self.replica_id})

    async def handle_rpc(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                payload = await read_frame(reader)
                writer.write(await loop.run_in_executor(self.pool, self.predict, payload))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1] == "/health":
                body = json.dumps({"status": "ok", "replica": self.replica_id, "pid": os.getpid(),
                                   "deployment_crn": self.cfg["deployment_crn"], "served": self.served}).encode()
                status = "200 OK"
            else:
                body, status = b'{"status": "not found"}', "404 Not Found"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _exit_with_parent(stop: asyncio.Event) -> None:
        """A platform killed with SIGKILL can't stop its replicas; they notice being re-parented and exit."""
        parent = os.getppid()
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if os.getppid() != parent:
                log.warning("platform process %d is gone; replica exiting", parent)
                stop.set()

    async def run(self) -> None:
        sdk.configure_replica(self.cfg["deployment_crn"], self.cfg["build_crn"], self.cfg["model_crn"],
                              self.cfg["metrics_url"])
        os.chdir(self.cfg["project_dir"])
        # Importing the model may take a while (and may itself predict, like CML's warm-up calls).
        self.fn = await asyncio.get_running_loop().run_in_executor(
            self.pool, load_function, Path(self.cfg["file"]), self.cfg["function"])
        sock = Path(self.cfg["socket"])
        sock.unlink(missing_ok=True)
        rpc = await asyncio.start_unix_server(self.handle_rpc, path=str(sock))
        http = await asyncio.start_server(self.handle_http, "127.0.0.1", int(self.cfg["health_port"]))
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        orphan_watch = asyncio.create_task(self._exit_with_parent(stop))
        log.info("replica %s ready", self.replica_id)
        async with rpc, http:
            await stop.wait()
        orphan_watch.cancel()
        sock.unlink(missing_ok=True)
        self.pool.shutdown(wait=True)
        sdk._ctx().store.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    cfg = json.loads(os.environ[sdk.REPLICA_CONFIG_ENV])
    try:
        asyncio.run(Replica(cfg).run())
    except Exception:
        log.exception("replica failed to start")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
