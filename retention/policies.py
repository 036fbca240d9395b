"""Retention per document: computed at filing, recomputed when a trigger happens or the schedule changes.

Compliance mode: `retain_until` only grows. A recomputation that would shorten it (or clear it) is refused, the
document keeps its date, and `retention.shortening_refused` is appended. The database refuses it too (migration
0004), so no code path can slip past.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.clock import isoformat
from archive.models import AuditEvent, Customer, Document, Order
from archive.models_retention import RetentionEvent
from archive.runtime import Runtime
from audit.log import Actor, append, append_many
from retention.schedule import RetentionClass, Schedule, compute, fiscal_year_end, load_schedule

SCHEDULE_ACTION = "retention.schedule_changed"
RECOMPUTE_BATCH = 1000


def schedule_of(rt: Runtime) -> Schedule:
    return load_schedule(rt.settings.retention_schedule)


@dataclass(frozen=True)
class Outcome:
    """What the schedule says for one document now."""

    retention_class: RetentionClass | None
    retain_until: date | None
    rule: str


def evaluate(session: Session, schedule: Schedule, document: Document,
             customer_number: str | None = None) -> Outcome:
    """`customer_number` spares a lookup when the caller knows it (filing)."""
    if customer_number is None:
        customer = document.customer or session.get(Customer, document.customer_id)
        customer_number = customer.number if customer else None
    retention_class = schedule.class_for(document.doc_type, customer_number)
    if retention_class is None:
        return Outcome(None, None, f"no class of schedule {schedule.name} covers doc_type {document.doc_type!r}: "
                                   "kept until a class does")
    start, started_by = _trigger_date(session, retention_class, document)
    where = f"{schedule.name}@{schedule.content_hash[7:19]}"
    if start is None:
        return Outcome(retention_class, None, f"{where} {retention_class.key}: {retention_class.period.text()} "
                                              f"after {retention_class.trigger}, which has not happened yet")
    until = compute(schedule, retention_class, start)
    if retention_class.trigger == "fiscal_year_end":
        start = fiscal_year_end(start, schedule.fiscal_year_end)
    rounding = "" if retention_class.rounding == "none" else f", rounded to {retention_class.rounding}"
    return Outcome(retention_class, until, f"{where} {retention_class.key}: {retention_class.period.text()} after "
                                           f"{started_by} ({start.isoformat()}){rounding}")


def _trigger_date(session: Session, retention_class: RetentionClass, document: Document) -> tuple[date | None, str]:
    own = document.document_date or document.filed_at.date()
    source = "document_date" if document.document_date else "filing date"
    event = retention_class.event_name
    if event is None:
        return own, (f"fiscal year end of the {source}" if retention_class.trigger == "fiscal_year_end" else source)
    if event == "order_closed" and document.order_id is None:
        return own, f"{source} (the document belongs to no order)"
    return event_date(session, event, document), event


def event_date(session: Session, name: str, document: Document) -> date | None:
    """The latest recorded `name` event for the document itself, its order, or its customer as a whole."""
    scopes = [RetentionEvent.document_id == document.id,
              (RetentionEvent.customer_id == document.customer_id) & RetentionEvent.order_id.is_(None)
              & RetentionEvent.document_id.is_(None)]
    if document.order_id:
        scopes.append((RetentionEvent.order_id == document.order_id) & RetentionEvent.document_id.is_(None))
    dates = session.scalars(select(RetentionEvent.occurred_on).where(RetentionEvent.name == name, or_(*scopes)))
    return max(dates, default=None)


def assign_at_filing(session: Session, rt: Runtime, document: Document, customer_number: str) -> None:
    """Called by archive.filing, in the filing transaction, before the document's row is written."""
    outcome = evaluate(session, schedule_of(rt), document, customer_number)
    document.retain_until = outcome.retain_until
    document.retention_class = outcome.retention_class.key if outcome.retention_class else None
    document.retention_rule = outcome.rule


def reassess(session: Session, schedule: Schedule, documents: Iterable[Document]) -> list[tuple[str, str, dict]]:
    """Applies what the schedule says now, only where it does not shorten; returns audit entries for the caller."""
    entries = []
    for document in documents:
        outcome = evaluate(session, schedule, document)
        old = document.retain_until
        details = {"class": outcome.retention_class.key if outcome.retention_class else None,
                   "old_retain_until": _iso(old), "new_retain_until": _iso(outcome.retain_until),
                   "rule": outcome.rule}
        if old is not None and (outcome.retain_until is None or outcome.retain_until < old):
            entries.append(("retention.shortening_refused", f"document:{document.id}", details))
            continue
        if (outcome.retain_until, details["class"], outcome.rule) == (old, document.retention_class,
                                                                      document.retention_rule):
            continue
        document.retain_until, document.retention_class = outcome.retain_until, details["class"]
        document.retention_rule = outcome.rule
        entries.append(("retention.recomputed", f"document:{document.id}", details))
    return entries


def recompute_all(rt: Runtime, actor: Actor, batch: int = RECOMPUTE_BATCH) -> dict[str, int]:
    """After a schedule change: every active document, in id order, one transaction per batch."""
    record_schedule(rt, actor)
    schedule, after, counts = schedule_of(rt), "", {"documents": 0, "recomputed": 0, "refused": 0}
    while True:
        with rt.transaction() as session:
            documents = session.scalars(select(Document).where(Document.id > after, Document.status == "active")
                                        .order_by(Document.id).limit(batch)).all()
            if not documents:
                return counts
            entries = reassess(session, schedule, documents)
            append_outcomes(session, rt, actor, entries)
        _count(counts, len(documents), entries)
        after = documents[-1].id


def append_outcomes(session: Session, rt: Runtime, actor: Actor, entries: list[tuple[str, str, dict]]) -> None:
    """Refusals are recorded with outcome `denied`; nothing is raised, so they commit with the recomputation."""
    append_many(session, rt.clock, actor, [e for e in entries if e[0] == "retention.recomputed"])
    append_many(session, rt.clock, actor, [e for e in entries if e[0] != "retention.recomputed"], outcome="denied")


def _count(counts: dict[str, int], seen: int, entries: list[tuple[str, str, dict]]) -> None:
    counts["documents"] += seen
    counts["recomputed"] += sum(1 for e in entries if e[0] == "retention.recomputed")
    counts["refused"] += sum(1 for e in entries if e[0] == "retention.shortening_refused")


def record_event(rt: Runtime, actor: Actor, name: str, customer: Customer, order: Order | None = None,
                 document: Document | None = None, occurred_on: date | None = None) -> dict[str, Any]:
    """Records that a trigger happened and recomputes the documents it starts periods for."""
    occurred_on = occurred_on or rt.clock().date()
    with rt.transaction() as session:
        event = RetentionEvent(name=name, customer_id=customer.id, order_id=order.id if order else None,
                               document_id=document.id if document else None, occurred_on=occurred_on,
                               recorded_at=rt.clock(), recorded_by=actor.name)
        session.add(event)
        if name == "order_closed" and order is not None:
            closing = session.get(Order, order.id)
            closing.status, closing.closed_at = "closed", rt.clock()
        subject = f"document:{document.id}" if document else f"order:{order.id}" if order else f"customer:{customer.id}"
        append(session, rt.clock, actor, "retention.event_recorded", subject,
               {"event": name, "customer": customer.number, "order": order.number if order else None,
                "document": document.id if document else None, "occurred_on": occurred_on.isoformat()})
        session.flush()
        affected = _affected(session, customer, order, document)
        entries = reassess(session, schedule_of(rt), affected)
        append_outcomes(session, rt, actor, entries)
    counts = {"documents": 0, "recomputed": 0, "refused": 0}
    _count(counts, len(affected), entries)
    return {"event": name, "occurred_on": occurred_on.isoformat(), **counts}


def _affected(session: Session, customer: Customer, order: Order | None, document: Document | None) -> list[Document]:
    query = select(Document).where(Document.status == "active")
    if document is not None:
        query = query.where(Document.id == document.id)
    elif order is not None:
        query = query.where(Document.order_id == order.id)
    else:
        query = query.where(Document.customer_id == customer.id)
    return list(session.scalars(query))


def record_schedule(rt: Runtime, actor: Actor) -> bool:
    """Appends retention.schedule_changed when the schedule in force differs from the last one recorded."""
    schedule = schedule_of(rt)
    with rt.transaction() as session:
        last = session.scalar(select(AuditEvent.details_json).where(AuditEvent.action == SCHEDULE_ACTION)
                              .order_by(AuditEvent.seq.desc()).limit(1))
        old_hash = json.loads(last)["new_hash"] if last else None
        if old_hash == schedule.content_hash:
            return False
        append(session, rt.clock, actor, SCHEDULE_ACTION, f"retention_schedule:{schedule.name}",
               {"name": schedule.name, "title": schedule.title, "old_hash": old_hash,
                "new_hash": schedule.content_hash, "fiscal_year_end": "%02d-%02d" % schedule.fiscal_year_end,
                "classes": schedule.table()})
        return True


def retention_view(schedule: Schedule | None, document: Document) -> dict[str, Any]:
    retention_class = schedule.classes.get(document.retention_class or "") if schedule else None
    return {"class": document.retention_class, "rule": document.retention_rule,
            "retain_until": _iso(document.retain_until),
            "legal_basis": retention_class.legal_basis if retention_class else None,
            "action": retention_class.action if retention_class else None,
            "on_hold": document.held, "status": document.status,
            "disposed_at": isoformat(document.disposed_at)}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
