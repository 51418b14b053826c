"""Monitors on a schedule inside ``mlcatalog up``: APScheduler, jobs kept in a SQL job store beside the platform's
state, one job per monitor firing on its ``every`` grid (plus a small lag), run on one scheduler thread.

A job only says "catch up on this monitor"; which windows that means comes from the monitor's ledger (what was
done), not from APScheduler's memory of past runs. So the schedule can be rebuilt at any start (jobs of monitors
that no longer exist are dropped, missing ones added), a run missed while the platform was down coalesces into
one catch-up of the missed windows (bounded), and a manual ``monitor run`` and a scheduled one never compute a
window twice. The heavy computation happens in the monitoring worker process (serving/monitoring/worker.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from serving.monitoring.service import MonitorService

log = logging.getLogger(__name__)
_services: dict[str, MonitorService] = {}
_lock = threading.Lock()


def tick(scheduler_id: str, crn: str) -> None:
    """The job function (referenced by name in the job store): catch up on one monitor."""
    with _lock:
        service = _services.get(scheduler_id)
    if service is None:
        return
    try:
        results = service.catch_up(crn)
    except Exception:
        log.exception("monitor of %s failed", crn)
        return
    for r in results:
        log.info("monitor %s window %d..%d: %s (%d predictions, %.2fs)", crn, r.start_ms, r.end_ms, r.status,
                 r.predictions, r.seconds)


class MonitorScheduler:
    def __init__(self, service: MonitorService, jobstore_url: str, *, scheduler_id: str = "platform") -> None:
        self.service = service
        self.scheduler_id = scheduler_id
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=jobstore_url, tablename="mlcatalog_monitor_jobs")},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC)
        service.on_schedule = self._on_schedule

    def start(self) -> None:
        with _lock:
            _services[self.scheduler_id] = self.service
        self._scheduler.start(paused=True)
        wanted = {m.deployment_crn: m.config.every_ms for m in self.service.active()}
        for job in self._scheduler.get_jobs():
            crn = job.args[1] if len(job.args) == 2 else None
            if crn not in wanted:
                job.remove()
        for crn, every in wanted.items():
            self._schedule(crn, every, replace=False)
            # catch up now on what was missed while the platform was down
            self._scheduler.add_job(tick, args=[self.scheduler_id, crn], id=f"catch-up:{crn}",
                                    replace_existing=True, jobstore="default")
        self._scheduler.resume()

    def sync(self) -> None:
        """Follow the monitors' table: with a state shared by several platform instances, monitors are added,
        changed and removed through any of them, and every instance's scheduler runs every active monitor (the
        ledger has each window computed once)."""
        wanted = {m.deployment_crn: m.config.every_ms for m in self.service.active()}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("catch-up:"):
                continue
            every = wanted.pop(job.id, None)
            if every is None:
                job.remove()
            elif round(job.trigger.interval.total_seconds() * 1000) != every:
                self._schedule(job.id, every, replace=True)
        for crn, every in wanted.items():
            self._schedule(crn, every, replace=True)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        with _lock:
            _services.pop(self.scheduler_id, None)

    def jobs(self) -> list[dict[str, Any]]:
        return [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None}
                for j in self._scheduler.get_jobs()]

    def _on_schedule(self, crn: str, every_ms: int | None) -> None:
        if every_ms is None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(crn)
            return
        self._schedule(crn, every_ms, replace=True)

    def _schedule(self, crn: str, every_ms: int, *, replace: bool) -> None:
        lag_s = self.service.lag_ms / 1000
        # fire on the epoch-aligned grid of window ends, lag seconds after each
        trigger = IntervalTrigger(seconds=every_ms / 1000, start_date=datetime.fromtimestamp(lag_s, UTC),
                                  timezone=UTC)
        existing = self._scheduler.get_job(crn)
        if existing is not None and not replace:
            existing.reschedule(trigger)
            return
        self._scheduler.add_job(tick, trigger, args=[self.scheduler_id, crn], id=crn, replace_existing=True,
                                name=f"monitor {crn}")
