"""Reading the journal: filtered, paginated by seq. Reading it is itself recorded."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.models import AuditEvent
from archive.runtime import Runtime
from audit.log import Actor, append
from audit.verify import JournalReport, verify_journal


def list_events(session: Session, clock: Clock, actor: Actor, *, subject: str | None = None,
                actor_name: str | None = None, action: str | None = None, since: datetime | None = None,
                until: datetime | None = None, after_seq: int = 0, limit: int = 100) -> dict[str, Any]:
    query = select(AuditEvent).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq).limit(limit + 1)
    filters = {"subject": subject, "actor": actor_name, "action": action}
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(AuditEvent, column) == value)
    if since is not None:
        query = query.where(AuditEvent.time >= since)
    if until is not None:
        query = query.where(AuditEvent.time < until)
    rows = session.scalars(query).all()
    page = rows[:limit]
    items = [event_view(e) for e in page]
    append(session, clock, actor, "audit.searched", None,
           {"filters": {k: v for k, v in filters.items() if v is not None}, "since": isoformat(since),
            "until": isoformat(until), "after_seq": after_seq, "count": len(items)})
    return {"items": items, "next_cursor": str(page[-1].seq) if len(rows) > limit else None}


def event_view(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "time": isoformat(event.time), "actor": event.actor, "credential": event.credential,
            "action": event.action,
            "subject": event.subject, "outcome": event.outcome, "ip": event.ip, "user_agent": event.user_agent,
            "details": event.details, "prev_hash": event.prev_hash, "hash": event.hash}


def verify_and_record(rt: Runtime, actor: Actor) -> JournalReport:
    """Verifies in a read snapshot of its own, then records that the verification happened and what it found."""
    with rt.reading() as session:
        report = verify_journal(session)
    with rt.transaction() as session:
        append(session, rt.clock, actor, "audit.verified", None, report.as_dict(),
               outcome="success" if report.ok else "failure")
    return report
