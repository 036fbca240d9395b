"""Periodic work: signed checkpoints (hourly by default) and fixity passes (daily, rate-limited, resumable).

When a job last ran is read from the database, not kept in memory, so restarts and several schedulers agree.
`archive scheduler` runs the loop; `archive serve` starts it beside the web workers on the embedded default.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select

from archive.fixity import run_fixity
from archive.models import AuditCheckpoint, FixityRun
from archive.runtime import Runtime
from audit.checkpoints import create_checkpoint
from audit.log import Actor

log = logging.getLogger(__name__)
FIXITY_BLOBS_PER_TICK = 2000  # a tick stays short; the next one resumes where this one stopped


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[Runtime], timedelta]
    last_run: Callable[[Runtime], datetime | None]
    run: Callable[[Runtime, Actor], object]


def _last_checkpoint(rt: Runtime) -> datetime | None:
    with rt.reading() as session:
        return session.scalar(select(func.max(AuditCheckpoint.created_at)))


def _last_fixity(rt: Runtime) -> datetime | None:
    with rt.reading() as session:
        if session.scalar(select(func.count()).select_from(FixityRun).where(FixityRun.finished_at.is_(None))):
            return None  # an unfinished pass is always due: resume it
        return session.scalar(select(func.max(FixityRun.started_at)))


def _fixity_tick(rt: Runtime, actor: Actor) -> object:
    rate = rt.settings.fixity_max_mb_per_second * 1e6
    return run_fixity(rt, actor, max_bytes_per_second=rate, max_blobs=FIXITY_BLOBS_PER_TICK)


JOBS = (
    Job("audit.checkpoint", lambda rt: timedelta(seconds=rt.settings.checkpoint_interval_seconds),
        _last_checkpoint, create_checkpoint),
    Job("fixity", lambda rt: timedelta(seconds=rt.settings.fixity_interval_seconds), _last_fixity, _fixity_tick),
)


def due_jobs(rt: Runtime) -> list[Job]:
    now = rt.clock()
    return [job for job in JOBS if (last := job.last_run(rt)) is None or now - last >= job.interval(rt)]


def run_due(rt: Runtime, actor: Actor) -> list[str]:
    """Runs every due job once; a failing job is logged and does not stop the others."""
    ran = []
    for job in due_jobs(rt):
        try:
            job.run(rt, actor)
            ran.append(job.name)
        except Exception:  # noqa: BLE001 - the scheduler outlives one bad run; the failure is logged
            log.exception("scheduled job %s failed", job.name)
    return ran


def run_forever(rt: Runtime, actor: Actor, stop: threading.Event, poll_seconds: float = 30.0) -> None:
    while not stop.is_set():
        run_due(rt, actor)
        stop.wait(poll_seconds)
