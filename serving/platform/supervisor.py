"""Starts, watches and restarts replica processes; feeds the gateway pools."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.platform.pool import Pool, ReplicaHandle
from serving.replica import REPLICA_CONFIG_ENV

log = logging.getLogger(__name__)
RESTART_BACKOFF_MAX = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DeploymentSpec:
    crn: str
    name: str
    model_crn: str
    build_crn: str
    project_dir: str
    file: str
    function: str
    replicas: int


@dataclass
class _Proc:
    handle: ReplicaHandle
    config: dict[str, Any]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0  # consecutive quick restarts (for the backoff)
    restarts_total: int = 0
    started_at: float = 0.0


@dataclass
class _Running:
    spec: DeploymentSpec
    pool: Pool
    procs: list[_Proc] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None
    stopping: bool = False


class Supervisor:
    def __init__(self, run_dir: Path, metrics_url: str, poll_us: int = 0) -> None:
        self.run_dir = run_dir
        self.metrics_url = metrics_url
        self.poll_us = poll_us
        self.running: dict[str, _Running] = {}

    def pool(self, crn: str) -> Pool | None:
        r = self.running.get(crn)
        return r.pool if r is not None else None

    async def start(self, spec: DeploymentSpec, ready_timeout: float = 120.0) -> None:
        """Start the replicas and return once every one answers (raises with the replica's log tail if not)."""
        if spec.crn in self.running:
            return
        short = spec.crn.rsplit("/", 1)[-1][:8]
        folder = self._folder(spec.crn)
        folder.mkdir(parents=True, exist_ok=True)
        pool = Pool(spec.crn, on_stuck=lambda h: self._recycle(spec.crn, h))
        running = _Running(spec, pool)
        for i in range(spec.replicas):
            replica_id = f"{spec.name}-{short}-{i}"
            handle = ReplicaHandle(spec.crn, i, replica_id, str(folder / f"r{i}.sock"), free_port())
            pool.add(handle)
            cfg = {"replica_id": replica_id, "deployment_crn": spec.crn, "build_crn": spec.build_crn,
                   "model_crn": spec.model_crn, "metrics_url": self.metrics_url, "project_dir": spec.project_dir,
                   "file": spec.file, "function": spec.function, "socket": handle.socket,
                   "health_port": handle.health_port, "poll_us": self.poll_us}
            running.procs.append(_Proc(handle, cfg, folder / f"r{i}.log"))
        self.running[spec.crn] = running
        for p in running.procs:
            self._spawn(p)
        try:
            await asyncio.gather(*(self._wait_ready(p, ready_timeout) for p in running.procs))
        except Exception:
            await self.stop(spec.crn)
            raise
        for p in running.procs:
            pool.mark_up(p.handle)
        running.watcher = asyncio.create_task(self._watch(running))

    def _spawn(self, p: _Proc) -> None:
        env = dict(os.environ)
        env[REPLICA_CONFIG_ENV] = json.dumps(p.config)
        env.pop("MLCATALOG_API_KEY", None)
        logf = p.log_path.open("ab")
        try:
            p.proc = subprocess.Popen([sys.executable, "-m", "serving.replica"], env=env, stdout=logf,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            logf.close()
        p.started_at = time.monotonic()

    def _recycle(self, crn: str, handle: ReplicaHandle) -> None:
        """A replica that missed the request timeout is stuck in the model: kill it; the watcher restarts it."""
        r = self.running.get(crn)
        for p in r.procs if r else []:
            if p.handle is handle and p.proc is not None and p.proc.poll() is None:
                log.warning("replica %s did not answer in time; restarting it", handle.replica_id)
                p.proc.kill()

    async def _wait_ready(self, p: _Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert p.proc is not None
            if p.proc.poll() is not None:
                raise RuntimeError(f"replica {p.handle.replica_id} exited with code {p.proc.returncode}: "
                                   f"{self.log_tail(p)}")
            if await self._healthy(p.handle):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"replica {p.handle.replica_id} not ready after {timeout:.0f}s: {self.log_tail(p)}")

    @staticmethod
    async def _healthy(h: ReplicaHandle) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", h.health_port)
        except OSError:
            return False
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: replica\r\n\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 2.0)
            return b" 200 " in line and os.path.exists(h.socket)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    @staticmethod
    def log_tail(p: _Proc, lines: int = 5) -> str:
        try:
            text = p.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    async def _watch(self, r: _Running) -> None:
        """Restart crashed replicas (with backoff) while the deployment runs."""
        while not r.stopping:
            await asyncio.sleep(0.1)
            for p in r.procs:
                if r.stopping or p.proc is None or p.proc.poll() is None:
                    continue
                r.pool.mark_down(p.handle)
                log.warning("replica %s exited (code %s); restarting", p.handle.replica_id, p.proc.returncode)
                uptime = time.monotonic() - p.started_at
                p.restarts = 0 if uptime > 60 else p.restarts + 1
                p.restarts_total += 1
                await asyncio.sleep(min(RESTART_BACKOFF_MAX, 0.2 * (2 ** min(p.restarts, 6))) if p.restarts else 0)
                if r.stopping:
                    break
                self._spawn(p)
                try:
                    await self._wait_ready(p, 120.0)
                except RuntimeError as e:
                    log.error("%s", e)
                    continue
                r.pool.mark_up(p.handle)

    async def stop(self, crn: str, grace: float = 10.0) -> None:
        r = self.running.pop(crn, None)
        if r is None:
            return
        r.stopping = True
        if r.watcher is not None:
            r.watcher.cancel()
        for p in r.procs:
            r.pool.mark_down(p.handle)
            if p.proc is not None and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in r.procs:
            while p.proc is not None and p.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if p.proc is not None and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()

    async def stop_all(self) -> None:
        for crn in list(self.running):
            await self.stop(crn)

    def _folder(self, crn: str) -> Path:
        return self.run_dir / crn.rsplit("/", 1)[-1][:8]

    def logs(self, crn: str, lines: int = 200) -> list[dict[str, Any]]:
        """The last ``lines`` lines of each replica's log (stopped deployments too, while their logs exist)."""
        out = []
        for path in sorted(self._folder(crn).glob("r*.log"), key=lambda p: int(p.stem[1:] or 0)):
            try:
                text = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            out.append({"replica": int(path.stem[1:] or 0), "path": str(path), "lines": text[-lines:]})
        return out

    def replicas(self, crn: str) -> list[dict[str, Any]]:
        r = self.running.get(crn)
        if r is None:
            return []
        return [{"replica_id": p.handle.replica_id, "alive": p.handle.alive,
                 "pid": p.proc.pid if p.proc else None, "restarts": p.restarts_total,
                 "health_url": f"http://127.0.0.1:{p.handle.health_port}/health"} for p in r.procs]
