"""The outbox: derived work recorded in the same transaction as the change, dispatched only after commit.

Any number of workers may drain it: an item is claimed with a conditional UPDATE and a lease, so it runs on one
worker at a time; a worker that dies loses its lease and the item runs again (tasks are idempotent). Failures retry
with exponential backoff.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.ids import new_id
from archive.models import OutboxItem
from archive.runtime import Runtime

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX = timedelta(hours=1)


def outbox_row(clock: Clock, task: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Task arguments are IDs in JSON, never objects. As a row for Core inserts (filing writes its rows so)."""
    now = clock()
    return {"id": new_id(), "task": task, "payload": payload, "created_at": now, "available_at": now, "attempts": 0}


def enqueue(session: Session, clock: Clock, task: str, payload: dict[str, Any]) -> OutboxItem:
    item = OutboxItem(**outbox_row(clock, task, payload))
    session.add(item)
    return item


@dataclass(frozen=True)
class Claimed:
    id: str
    task: str
    payload: dict[str, Any]
    attempts: int


def claim(rt: Runtime, limit: int = 20,
          on_claimed: Callable[[Session, list[Claimed]], None] | None = None) -> list[Claimed]:
    """Claims up to `limit` due items for this worker; `on_claimed` runs in the claiming transaction."""
    now = rt.clock()
    with rt.reading() as session:
        candidates = session.execute(
            select(OutboxItem.id, OutboxItem.task, OutboxItem.payload, OutboxItem.attempts)
            .where(OutboxItem.done_at.is_(None), OutboxItem.available_at <= now,
                   or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now))
            .order_by(OutboxItem.available_at).limit(limit)).all()
    claimed = []
    if not candidates:
        return claimed
    with rt.transaction() as session:  # one commit for the batch: each commit is a sync, and SQLite has one writer
        for item_id, task, payload, attempts in candidates:
            won = session.execute(
                update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.done_at.is_(None),
                                         or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now))
                .values(claimed_until=now + LEASE, attempts=OutboxItem.attempts + 1)).rowcount
            if won:
                claimed.append(Claimed(item_id, task, payload, attempts + 1))
        if on_claimed is not None and claimed:
            on_claimed(session, claimed)
    return claimed


def complete(rt: Runtime, item_id: str) -> None:
    with rt.transaction() as session:
        mark_complete(session, rt.clock, item_id)


def mark_complete(session: Session, clock: Clock, item_id: str) -> None:
    """In the caller's transaction: a handler can end its item in its own last commit (archive.tasks)."""
    session.execute(update(OutboxItem).where(OutboxItem.id == item_id)
                    .values(done_at=clock(), claimed_until=None, last_error=None))


def fail(rt: Runtime, item: Claimed, error: str) -> bool:
    """Schedules a retry with backoff; returns False when the item has used up its attempts (it stays failed)."""
    now = rt.clock()
    final = item.attempts >= MAX_ATTEMPTS
    delay = min(timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (item.attempts - 1)), BACKOFF_MAX)
    with rt.transaction() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(
            claimed_until=None, last_error=error[:2000], available_at=now + delay,
            done_at=now if final else None))
    return not final


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.done_at.is_(None))) or 0
