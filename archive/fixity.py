"""Fixity: re-hash every stored blob as a stream and compare it with its recorded checksum.

Finds damaged and missing content, and blobs on disk that no row refers to (quarantined). Results are audit events;
each intact version gets `last_verified_at`. Runs are rate-limited and resumable: the cursor is saved as it goes.
The same function serves `archive fixity run` and the scheduled task.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select, update

from archive.blobstore import read_chunks
from archive.errors import IntegrityFailure
from archive.hashing import hash_chunks
from archive.models import Blob, DocumentVersion, FixityRun
from archive.runtime import Runtime
from audit.log import Actor, append

BATCH = 200
ORPHAN_GRACE_SECONDS = 15 * 60  # no filing transaction stays open this long after linking its blob


@dataclass
class FixityReport:
    run_id: str
    checked: int = 0
    bytes_checked: int = 0
    corrupted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphans_quarantined: list[str] = field(default_factory=list)
    leftovers_removed: int = 0
    complete: bool = False

    @property
    def clean(self) -> bool:
        return not (self.corrupted or self.missing or self.orphans_quarantined)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "clean": self.clean, "complete": self.complete, "checked": self.checked,
                "bytes_checked": self.bytes_checked, "corrupted": self.corrupted, "missing": self.missing,
                "orphans_quarantined": self.orphans_quarantined, "leftovers_removed": self.leftovers_removed}


def run_fixity(rt: Runtime, actor: Actor, *, resume: bool = True, max_bytes_per_second: float | None = None,
               max_blobs: int | None = None, orphan_min_age: float = ORPHAN_GRACE_SECONDS,
               sleep: Callable[[float], None] = time.sleep) -> FixityReport:
    """Checks blobs in checksum order from the saved cursor; `max_blobs` stops early (the run stays resumable)."""
    run = _open_run(rt, actor, resume)
    report = FixityReport(run.id, run.checked, run.bytes_checked, **{k: list(v) for k, v in run.problems.items()})
    throttle = _Throttle(max_bytes_per_second, sleep)
    cursor = run.cursor or ""
    while max_blobs is None or report.checked - run.checked < max_blobs:
        batch = _next_blobs(rt, cursor, BATCH if max_blobs is None else min(BATCH, max_blobs))
        if not batch:
            report.complete = True
            break
        for checksum, size in batch:
            _check_blob(rt, actor, checksum, size, report)
            throttle.spent(size)
        cursor = batch[-1][0]
        _save_progress(rt, run.id, cursor, report)
    if report.complete:
        _quarantine_orphans(rt, actor, report, orphan_min_age)
        _finish_run(rt, actor, run.id, report)
    return report


def _open_run(rt: Runtime, actor: Actor, resume: bool) -> FixityRun:
    with rt.transaction() as session:
        unfinished = session.scalar(select(FixityRun).where(FixityRun.finished_at.is_(None))
                                    .order_by(FixityRun.started_at.desc()).limit(1))
        if unfinished is not None and resume:
            return unfinished
        run = FixityRun(started_at=rt.clock(), checked=0, bytes_checked=0,
                        problems={"corrupted": [], "missing": [], "orphans_quarantined": []})
        session.add(run)
        session.flush()
        append(session, rt.clock, actor, "fixity.started", f"fixity:{run.id}")
        return run


def _next_blobs(rt: Runtime, after: str, limit: int) -> list[tuple[str, int]]:
    with rt.reading() as session:
        return [tuple(row) for row in session.execute(
            select(Blob.checksum, Blob.size).where(Blob.checksum > after, Blob.destroyed_at.is_(None))
            .order_by(Blob.checksum).limit(limit))]


def _check_blob(rt: Runtime, actor: Actor, checksum: str, size: int, report: FixityReport) -> None:
    problem = None
    try:
        actual, actual_size = hash_chunks(read_chunks(rt.blobs.open(checksum, size)))
        if actual != checksum or actual_size != size:
            problem = ("corrupted", f"re-hashed to {actual} ({actual_size} bytes)")
    except IntegrityFailure as failure:
        problem = ("missing" if failure.code in ("blob_missing", "data_key_shredded") else "corrupted",
                   failure.message)
    report.checked += 1
    report.bytes_checked += size
    with rt.transaction() as session:
        if problem is None:
            session.execute(update(DocumentVersion).where(DocumentVersion.checksum == checksum)
                            .values(last_verified_at=rt.clock()))
            return
        getattr(report, problem[0]).append(checksum)
        append(session, rt.clock, actor, f"fixity.blob_{problem[0]}", f"blob:{checksum}",
               {"reason": problem[1]}, outcome="failure")


def _quarantine_orphans(rt: Runtime, actor: Actor, report: FixityReport, min_age: float) -> None:
    with rt.reading() as session:
        known = set(session.scalars(select(Blob.checksum)))
    for checksum in list(rt.blobs.checksums()):
        if checksum not in known and rt.blobs.quarantine(checksum, min_age):
            report.orphans_quarantined.append(checksum)
            with rt.transaction() as session:
                append(session, rt.clock, actor, "fixity.orphan_quarantined", f"blob:{checksum}",
                       outcome="failure")
    report.leftovers_removed = rt.blobs.sweep_leftovers(known, min_age)


def _save_progress(rt: Runtime, run_id: str, cursor: str, report: FixityReport) -> None:
    with rt.transaction() as session:
        run = session.get(FixityRun, run_id)
        run.cursor, run.checked, run.bytes_checked = cursor, report.checked, report.bytes_checked
        run.problems = {"corrupted": report.corrupted, "missing": report.missing,
                        "orphans_quarantined": report.orphans_quarantined}


def _finish_run(rt: Runtime, actor: Actor, run_id: str, report: FixityReport) -> None:
    with rt.transaction() as session:
        run = session.get(FixityRun, run_id)
        run.finished_at = rt.clock()
        run.problems = {"corrupted": report.corrupted, "missing": report.missing,
                        "orphans_quarantined": report.orphans_quarantined}
        summary = {k: v for k, v in report.as_dict().items() if k != "run_id"}
        append(session, rt.clock, actor, "fixity.completed", f"fixity:{run_id}", summary,
               outcome="success" if report.clean else "failure")


class _Throttle:
    """Keeps the average read rate under a limit, so fixity never starves filing."""

    def __init__(self, bytes_per_second: float | None, sleep: Callable[[float], None]) -> None:
        self.rate, self.sleep = bytes_per_second, sleep
        self.started, self.total = time.monotonic(), 0

    def spent(self, size: int) -> None:
        if not self.rate:
            return
        self.total += size
        ahead = self.total / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            self.sleep(ahead)
