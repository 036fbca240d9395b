"""The outbox: derived work recorded in the same transaction as the change, dispatched only after commit."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.models import OutboxItem


def enqueue(session: Session, clock: Clock, task: str, payload: dict[str, Any]) -> OutboxItem:
    """Task arguments are IDs in JSON, never objects."""
    now = clock()
    item = OutboxItem(task=task, payload=payload, created_at=now, available_at=now, attempts=0)
    session.add(item)
    return item
