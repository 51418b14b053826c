"""Starts, watches and restarts replica processes; feeds the gateway pools.

Replicas are asyncio subprocesses: one watcher task per replica awaits its exit and starts it again (with a backoff
when it keeps dying young), so nothing polls process state. A replica is ready, and joins its pool, once it answers
a HEALTH frame on its socket (serving/replica.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.platform.pool import Pool, ReplicaHandle, replica_health
from serving.replica import REPLICA_CONFIG_ENV

log = logging.getLogger(__name__)
RESTART_BACKOFF_MAX = 10.0
READY_TIMEOUT = 120.0  # the default start timeout: a model may load for long at import (settings: start_timeout)
READY_CHECK_INTERVAL = 0.05
PROGRESS_INTERVAL = 1.0  # how often a waiting deploy is told the replica log's last lines, when they changed
PROGRESS_LINES = 5
DIED_LINES = 40  # most of a replica's last traceback shown when it died while starting

#: a deploy's progress: {"event": "stage", "message": ...} or {"event": "log", "replica": id, "lines": [...]}
Progress = Callable[[dict[str, Any]], None]


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
    env: Mapping[str, str] = field(default_factory=dict)  # variables declared for this deployment
    python: str | None = None  # the build's environment's interpreter (buildenv.py); None: the platform's
    cml_env: Mapping[str, str] = field(default_factory=dict)  # CML's CDSW_* variables for this deployment


#: What a replica inherits from the platform's environment: how to run Python, find files and speak the locale.
#: Never the platform's own settings (MLCATALOG_*: Atlas and API passwords), cloud or database credentials: model
#: code is not trusted with them; a deployment declares what its model needs (``env``).
INHERITED_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP",
                           "TMP", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
                           "PYTHONIOENCODING", "PYTHONUTF8", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SSL_CERT_FILE",
                           "SSL_CERT_DIR"})


def replica_environment(platform_env: Mapping[str, str], declared: Mapping[str, str]) -> dict[str, str]:
    """A replica's environment: the inherited variables of ``platform_env`` (and the locale's ``LC_*``), then the
    deployment's ``declared`` ones."""
    env = {k: v for k, v in platform_env.items() if k in INHERITED_ENV or k.startswith("LC_")}
    env.update(declared)
    return env


@dataclass
class _Proc:
    handle: ReplicaHandle
    config: dict[str, Any]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the replica's variables besides the inherited ones
    python: str = sys.executable
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0  # consecutive quick restarts (for the backoff)
    restarts_total: int = 0
    started_at: float = 0.0
    watcher: asyncio.Task[None] | None = None  # restarts it whenever it exits


@dataclass
class _Running:
    spec: DeploymentSpec
    pool: Pool
    procs: list[_Proc] = field(default_factory=list)
    stopping: bool = False


class Supervisor:
    def __init__(self, run_dir: Path, metrics_url: str, poll_us: int = 0, *,
                 ready_timeout: float = READY_TIMEOUT) -> None:
        self.run_dir = run_dir
        self.metrics_url = metrics_url
        self.poll_us = poll_us
        self.ready_timeout = ready_timeout  # how long a replica may take to import its model file and answer
        self.running: dict[str, _Running] = {}

    def pool(self, crn: str) -> Pool | None:
        r = self.running.get(crn)
        return r.pool if r is not None else None

    async def start(self, spec: DeploymentSpec, progress: Progress | None = None) -> None:
        """Start the replicas and return once every one answers (raises with the replica's log tail if not);
        ``progress`` is told each replica's last log lines while it waits."""
        if spec.crn in self.running:
            return
        short = spec.crn.rsplit("/", 1)[-1][:8]
        folder = self._folder(spec.crn)
        folder.mkdir(parents=True, exist_ok=True)
        pool = Pool(spec.crn, on_stuck=lambda h: self._recycle(spec.crn, h))
        running = _Running(spec, pool)
        for i in range(spec.replicas):
            replica_id = f"{spec.name}-{short}-{i}"
            handle = ReplicaHandle(spec.crn, i, replica_id, str(folder / f"r{i}.sock"))
            pool.add(handle)
            cfg = {"replica_id": replica_id, "deployment_crn": spec.crn, "build_crn": spec.build_crn,
                   "model_crn": spec.model_crn, "metrics_url": self.metrics_url, "project_dir": spec.project_dir,
                   "file": spec.file, "function": spec.function, "socket": handle.socket, "poll_us": self.poll_us}
            # CML's variables, and HOME at the project as in a CML engine (code may read ~/models/...)
            env = {**spec.env, **spec.cml_env, "CDSW_ENGINE_ID": replica_id, "HOME": spec.project_dir}
            if spec.python:  # the build's environment activated: a python or pip the model starts is its own
                venv = Path(spec.python).parent.parent
                env.update({"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"})
            running.procs.append(_Proc(handle, cfg, folder / f"r{i}.log", env, spec.python or sys.executable))
        self.running[spec.crn] = running
        waits: list[asyncio.Task[None]] = []
        try:
            for p in running.procs:
                await self._spawn(p)
            waits = [asyncio.create_task(self._wait_ready(p, self.ready_timeout, progress)) for p in running.procs]
            await asyncio.gather(*waits)
        except BaseException:
            for w in waits:  # the first failure decides; the others' checks stop with their replicas
                w.cancel()
            await self.stop(spec.crn)
            raise
        for p in running.procs:
            pool.mark_up(p.handle)
            p.watcher = asyncio.create_task(self._keep_running(running, p), name=f"watch {p.handle.replica_id}")

    async def _spawn(self, p: _Proc) -> None:
        env = replica_environment(os.environ, p.env)
        if "VIRTUAL_ENV" in p.env:
            env.pop("PYTHONPATH", None)  # the platform's import path would come before the build's own packages
        env[REPLICA_CONFIG_ENV] = json.dumps(p.config)  # read and removed by the replica before the model loads
        p.started_at = time.monotonic()  # also when starting fails: a quick failure counts for the backoff
        with p.log_path.open("ab") as logf:  # the child has its own copy of the descriptor once started
            # A session of its own: a signal meant for the platform's process group does not hit the replicas.
            p.proc = await asyncio.create_subprocess_exec(
                p.python, "-m", "serving.replica", env=env, stdin=asyncio.subprocess.DEVNULL, stdout=logf,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    def _recycle(self, crn: str, handle: ReplicaHandle) -> None:
        """A replica that missed the request timeout is stuck in the model: kill it; its watcher restarts it."""
        r = self.running.get(crn)
        for p in r.procs if r else []:
            if p.handle is handle and p.proc is not None and p.proc.returncode is None:
                log.warning("replica %s did not answer in time; restarting it", handle.replica_id)
                with contextlib.suppress(ProcessLookupError):
                    p.proc.kill()

    async def _wait_ready(self, p: _Proc, timeout: float, progress: Progress | None = None) -> None:
        """Return once the replica answers a health check; RuntimeError (with its log tail) if it exits first or
        does not answer within ``timeout``. ``progress`` gets the log's last lines each time they change."""
        proc = p.proc
        assert proc is not None
        exited = asyncio.ensure_future(proc.wait())
        shown: list[str] = []
        next_progress = time.monotonic() + PROGRESS_INTERVAL
        try:
            async with asyncio.timeout(timeout):
                while not await self._healthy(p.handle, proc.pid):
                    if progress is not None and time.monotonic() >= next_progress:
                        next_progress = time.monotonic() + PROGRESS_INTERVAL
                        lines = self.log_lines(p)
                        if lines != shown:
                            shown = lines
                            progress({"event": "log", "replica": p.handle.replica_id, "lines": lines})
                    # The pause between checks also waits for the exit, which ends the wait at once.
                    await asyncio.wait({exited}, timeout=READY_CHECK_INTERVAL)
                    if exited.done():
                        if progress is not None:  # the traceback, whole, before the one-line refusal
                            progress({"event": "log", "replica": p.handle.replica_id,
                                      "lines": self.last_traceback(p)})
                        tail = self.log_tail(p)
                        # the traceback's last line (the exception) first: a long message is cut at its end
                        raise RuntimeError(f"replica {p.handle.replica_id} exited with code {proc.returncode}: "
                                           f"{tail.rsplit(' | ', 1)[-1]} (log: {tail})")
        except TimeoutError:
            raise RuntimeError(f"replica {p.handle.replica_id} not ready after {timeout:.0f}s: "
                               f"{self.log_tail(p)}") from None
        finally:
            exited.cancel()

    @staticmethod
    async def _healthy(h: ReplicaHandle, pid: int) -> bool:
        """The replica answers on its socket, and it is this process (not one a killed replica left behind)."""
        try:
            health = await replica_health(h.socket)
        except (OSError, EOFError, ValueError, TimeoutError):
            return False
        return health.get("replica") == h.replica_id and health.get("pid") == pid

    @staticmethod
    def log_lines(p: _Proc, lines: int = PROGRESS_LINES) -> list[str]:
        try:
            with p.log_path.open("rb") as f:  # the end of a log that may be long by now
                f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
                text = f.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return []
        return text[-lines:]

    @classmethod
    def last_traceback(cls, p: _Proc) -> list[str]:
        """The log from its last traceback on (at most :data:`DIED_LINES` lines), else its last lines."""
        lines = cls.log_lines(p, 1000)
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
        return lines[starts[-1]:][-DIED_LINES:] if starts else lines[-PROGRESS_LINES:]

    @classmethod
    def log_tail(cls, p: _Proc, lines: int = 5) -> str:
        if not p.log_path.exists():
            return "(no log)"
        return " | ".join(cls.log_lines(p, lines)) or "(empty log)"

    async def _keep_running(self, r: _Running, p: _Proc) -> None:
        """Restart the replica each time it exits (with backoff) while the deployment runs."""
        while not r.stopping:
            assert p.proc is not None
            code = await p.proc.wait()
            if r.stopping:
                return
            r.pool.mark_down(p.handle)
            log.warning("replica %s exited (code %s); restarting", p.handle.replica_id, code)
            uptime = time.monotonic() - p.started_at
            p.restarts = 0 if uptime > 60 else p.restarts + 1
            p.restarts_total += 1
            if p.restarts:
                await asyncio.sleep(min(RESTART_BACKOFF_MAX, 0.2 * (2 ** min(p.restarts, 6))))
            if r.stopping:
                return
            try:
                await self._spawn(p)
            except OSError as e:  # e.g. the log file cannot be opened: p.proc is still the exited one
                log.error("cannot start replica %s: %s", p.handle.replica_id, e)
                continue
            try:
                await self._wait_ready(p, self.ready_timeout)
            except RuntimeError as e:
                log.error("%s", e)
                proc = p.proc
                if proc is not None and proc.returncode is None:  # hung while starting: the next round restarts it
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                continue
            r.pool.mark_up(p.handle)

    async def stop(self, crn: str, grace: float = 10.0) -> None:
        """SIGTERM every replica (each finishes its prediction in flight), SIGKILL those still running after
        ``grace`` seconds."""
        r = self.running.pop(crn, None)
        if r is None:
            return
        r.stopping = True
        watchers = [p.watcher for p in r.procs if p.watcher is not None]
        for w in watchers:
            w.cancel()
        # Before signalling: a watcher cancelled in the middle of starting a replica has either started it (it is
        # in p.proc, signalled below) or killed and reaped it.
        await asyncio.gather(*watchers, return_exceptions=True)
        for p in r.procs:
            r.pool.mark_down(p.handle)
        await asyncio.gather(*(self._terminate(p, grace) for p in r.procs))

    @staticmethod
    async def _terminate(p: _Proc, grace: float) -> None:
        proc = p.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            log.warning("replica %s still running %gs after SIGTERM; killing it", p.handle.replica_id, grace)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

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
        """Each replica's id, whether it is in rotation, its current pid and how often it was restarted."""
        r = self.running.get(crn)
        if r is None:
            return []
        return [{"replica_id": p.handle.replica_id, "alive": p.handle.alive,
                 "pid": p.proc.pid if p.proc else None, "restarts": p.restarts_total} for p in r.procs]
