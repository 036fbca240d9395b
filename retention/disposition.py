"""Disposition with four eyes: one records manager proposes a batch of due documents, another approves it, then
it is executed: content destroyed (data key shredded, blob deleted once nothing else refers to it), a tombstone kept
(document and version rows, checksums, the audit trail), the index entries removed, a signed certificate filed.

Execution runs in chunks, one transaction each, so memory stays flat and a crash loses nothing: each chunk commits
the tombstones first and destroys the content after; a re-run of `execute` resumes and finishes the destruction.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import exists, false, func, insert, literal, select, true, update
from sqlalchemy.orm import Session, aliased

from archive.clock import isoformat
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.models import Blob, Document, DocumentVersion
from archive.models_retention import DispositionBatch, DispositionItem
from archive.outbox import enqueue
from archive.runtime import Runtime
from audit.log import Actor, append, append_many
from retention.holds import refresh_saved_search_holds, require_role
from retention.policies import record_schedule, schedule_of

MANAGERS = ("records_manager",)
CHUNK = 1000
PROPOSE_MAX = 1_000_000


def expired_query(today: date):
    """Active documents past retain_until and not held: under no obligation any more, whatever the class says."""
    return (select(Document.id).where(Document.status == "active", Document.held == false(),
                                      Document.retain_until < today).order_by(Document.id))


def due_query(rt: Runtime, today: date, action: str = "destroy"):
    """Expired documents whose class says `action` at expiry. A restricted document (its customer asked for
    erasure) is due for destruction whatever its class says, and never goes to review."""
    by_class = Document.retention_class.in_(schedule_of(rt).keys_with_action(action))
    if action == "destroy":
        return expired_query(today).where(by_class | (Document.restricted == true()))
    return expired_query(today).where(by_class, Document.restricted == false())


def reviewed_or_due_query(rt: Runtime, today: date):
    """At execution: due for destruction, or `review` at expiry (only a review decision puts those in a batch)."""
    classes = schedule_of(rt).keys_with_action("destroy") + schedule_of(rt).keys_with_action("review")
    return expired_query(today).where(Document.retention_class.in_(classes) | (Document.restricted == true()))


def list_due(rt: Runtime, actor: Actor, action: str = "destroy", after: str = "", limit: int = 100) -> dict:
    if action not in ("destroy", "review"):
        raise InvalidInput("action: destroy or review", code="invalid_parameter", field="action")
    refresh_saved_search_holds(rt, actor)
    with rt.transaction() as session:
        ids = session.scalars(due_query(rt, rt.clock().date(), action).where(Document.id > after)
                              .limit(limit + 1)).all()
        documents = [_summary(session.get(Document, i)) for i in ids[:limit]]
        append(session, rt.clock, actor, "retention.due_listed", None, {"action": action, "returned": len(documents)})
    return {"action": action, "items": documents, "next_cursor": ids[limit - 1] if len(ids) > limit else None}


def _summary(document: Document) -> dict[str, Any]:
    return {"id": document.id, "doc_type": document.doc_type, "customer": document.customer.number,
            "order": document.order.number if document.order else None,
            "document_date": document.document_date.isoformat() if document.document_date else None,
            "retain_until": document.retain_until.isoformat(), "retention_class": document.retention_class}


def propose(rt: Runtime, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    require_role(actor, MANAGERS, "proposing a disposition batch")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason: text", code="invalid_parameter", field="reason")
    record_schedule(rt, actor)
    refresh_saved_search_holds(rt, actor)
    schedule, today = schedule_of(rt), rt.clock().date()
    with rt.transaction() as session:
        batch = DispositionBatch(status="proposed", reason=reason, schedule=schedule.name, document_count=0,
                                 schedule_hash=schedule.content_hash, proposed_at=rt.clock(), proposed_by=actor.name)
        session.add(batch)
        session.flush()
        count = _add_items(session, rt, batch.id, body, today)
        if count == 0:
            raise Conflict("nothing is due for disposition", code="nothing_due")
        batch.document_count = count
        append(session, rt.clock, actor, "disposition.proposed", f"disposition:{batch.id}",
               {"documents": count, "schedule": schedule.name, "schedule_hash": schedule.content_hash,
                "reason": reason})
        return batch_view(batch)


def _add_items(session: Session, rt: Runtime, batch_id: str, body: dict[str, Any], today: date) -> int:
    requested = body.get("documents")
    due = due_query(rt, today)
    if requested is None:
        limit = body.get("limit") or PROPOSE_MAX
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit: a positive integer", code="invalid_parameter", field="limit")
        chosen = due.limit(min(limit, PROPOSE_MAX)).subquery()
        session.execute(insert(DispositionItem).from_select(  # in the database: constant memory
            ["batch_id", "document_id"], select(literal(batch_id), chosen.c.id)))
        return session.scalar(select(func.count()).select_from(DispositionItem)
                              .where(DispositionItem.batch_id == batch_id))
    if isinstance(requested, list) and requested and all(isinstance(i, str) for i in requested):
        ids = list(dict.fromkeys(requested))
        eligible = set(session.scalars(due.where(Document.id.in_(ids))))
        refused = [i for i in ids if i not in eligible]
        if refused:
            raise Conflict(f"{len(refused)} documents are not due for destruction (retention not over, held, "
                           "already disposed or not `destroy` at expiry)", code="not_due", documents=refused[:100])
    else:
        raise InvalidInput("documents: a non-empty list of ids, or omit it to propose everything due",
                           code="invalid_parameter", field="documents")
    for start in range(0, len(ids), CHUNK):
        session.execute(insert(DispositionItem), [{"batch_id": batch_id, "document_id": i}
                                                  for i in ids[start:start + CHUNK]])
    return len(ids)


def approve(rt: Runtime, actor: Actor, batch_id: str) -> dict[str, Any]:
    require_role(actor, MANAGERS, "approving a disposition batch")
    with rt.transaction() as session:
        batch = _load(session, batch_id)
        if batch.status != "proposed":
            raise Conflict(f"batch {batch_id} is {batch.status}, not proposed", code="batch_not_proposed")
        own = batch.proposed_by == actor.name
    if own:
        with rt.transaction() as session:
            append(session, rt.clock, actor, "disposition.approval_refused", f"disposition:{batch_id}",
                   {"reason": "four_eyes_required"}, outcome="denied")
        raise Forbidden("a disposition batch must be approved by someone other than its proposer",
                        code="four_eyes_required")
    with rt.transaction() as session:
        batch = _load(session, batch_id)
        batch.status, batch.approved_at, batch.approved_by = "approved", rt.clock(), actor.name
        append(session, rt.clock, actor, "disposition.approved", f"disposition:{batch_id}",
               {"documents": batch.document_count, "proposed_by": batch.proposed_by})
        return batch_view(batch)


def execute(rt: Runtime, actor: Actor, batch_id: str, chunk: int = CHUNK) -> dict[str, Any]:
    """Disposes every item still eligible; resumable. Ends with the signed certificate."""
    from retention.certificates import issue_certificate
    require_role(actor, MANAGERS, "executing a disposition batch")
    with rt.transaction() as session:
        batch = _load(session, batch_id)
        if batch.status not in ("approved", "executing"):
            raise Conflict(f"batch {batch_id} is {batch.status}; only an approved batch is executed",
                           code="batch_not_approved")
        resuming = batch.status == "executing"
        batch.status, batch.executed_by = "executing", actor.name
    refresh_saved_search_holds(rt, actor)
    if resuming:
        _finish_destruction(rt, batch_id)
    while _dispose_chunk(rt, actor, batch_id, rt.clock().date(), chunk):
        pass
    return issue_certificate(rt, actor, batch_id)


def _dispose_chunk(rt: Runtime, actor: Actor, batch_id: str, today: date, chunk: int) -> bool:
    with rt.transaction() as session:
        ids = session.scalars(select(DispositionItem.document_id).where(
            DispositionItem.batch_id == batch_id, DispositionItem.outcome.is_(None))
            .order_by(DispositionItem.document_id).limit(chunk)).all()
        if not ids:
            return False
        batch = session.get(DispositionBatch, batch_id)
        still = expired_query(today) if batch.erasure_request_id else reviewed_or_due_query(rt, today)
        eligible = set(session.scalars(still.where(Document.id.in_(ids)).with_for_update()))
        disposed = [i for i in ids if i in eligible]
        _mark_items(session, batch_id, ids, eligible)
        versions = session.execute(select(DocumentVersion.document_id, DocumentVersion.number,
                                          DocumentVersion.checksum).where(DocumentVersion.document_id.in_(disposed))
                                   .order_by(DocumentVersion.document_id, DocumentVersion.number)).all()
        now = rt.clock()
        session.execute(update(Document).where(Document.id.in_(disposed))
                        .values(status="disposed", disposed_at=now).execution_options(synchronize_session=False))
        doomed = _unshared(session, {v.checksum for v in versions})
        session.execute(update(Blob).where(Blob.checksum.in_(doomed)).values(destroyed_at=now))
        append_many(session, rt.clock, actor, _events(batch_id, disposed, versions, doomed, ids, eligible))
        if disposed:
            enqueue(session, rt.clock, "search.unindex", {"document_ids": disposed})
    rt.blobs.destroy_many(sorted(doomed))  # after commit: a crash here is finished by a re-run of execute
    rt.work_committed()
    return True


def _mark_items(session: Session, batch_id: str, ids: list[str], eligible: set[str]) -> None:
    for outcome, group in (("disposed", [i for i in ids if i in eligible]),
                           ("skipped", [i for i in ids if i not in eligible])):
        if group:
            session.execute(update(DispositionItem).where(DispositionItem.batch_id == batch_id,
                                                          DispositionItem.document_id.in_(group))
                            .values(outcome=outcome))


def _unshared(session: Session, checksums: set[str]) -> list[str]:
    """Checksums no version of a document that is still active refers to (identical content filed elsewhere)."""
    if not checksums:
        return []
    other, owner = aliased(DocumentVersion), aliased(Document)
    shared = set(session.scalars(select(other.checksum).join(owner, owner.id == other.document_id)
                                 .where(other.checksum.in_(checksums), owner.status != "disposed")))
    return sorted(checksums - shared)


def _events(batch_id: str, disposed: list[str], versions: list[Any], doomed: list[str], ids: list[str],
            eligible: set[str]) -> list[tuple[str, str, dict]]:
    by_document: dict[str, list[dict]] = {}
    destroyed = set(doomed)
    for v in versions:
        by_document.setdefault(v.document_id, []).append(
            {"version": v.number, "checksum": v.checksum, "content_destroyed": v.checksum in destroyed})
    entries = [("retention.disposed", f"document:{i}", {"batch": batch_id, "versions": by_document.get(i, [])})
               for i in disposed]
    entries += [("disposition.skipped", f"document:{i}", {"batch": batch_id,
                                                          "reason": "no longer due (held, retention extended "
                                                                    "or already disposed)"})
                for i in ids if i not in eligible]
    return entries


def _finish_destruction(rt: Runtime, batch_id: str) -> None:
    """After a crash between a chunk's commit and its destruction: destroy what the tombstones say is gone."""
    after = ""
    while True:
        with rt.reading() as session:
            checksums = session.scalars(
                select(Blob.checksum).where(Blob.destroyed_at.is_not(None), Blob.checksum > after,
                                            exists().where(DocumentVersion.checksum == Blob.checksum,
                                                           DispositionItem.document_id == DocumentVersion.document_id,
                                                           DispositionItem.batch_id == batch_id))
                .order_by(Blob.checksum).limit(CHUNK)).all()
        if not checksums:
            return
        rt.blobs.destroy_many(checksums)
        after = checksums[-1]


def refuse_deletion(rt: Runtime, actor: Actor, document_id: str) -> None:
    """Nobody, admins included, deletes a document directly: before retain_until it is refused as a retention
    violation, after it through a disposition batch only. Every attempt is recorded."""
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is None:
            raise NotFound(f"no document {document_id}", code="document_not_found")
        code, why = _deletion_refusal(document, rt.clock().date())
        append(session, rt.clock, actor, "document.deletion_refused", f"document:{document_id}",
               {"code": code, "retain_until": document.retain_until.isoformat() if document.retain_until else None},
               outcome="denied")
    raise Conflict(why, code=code)


def _deletion_refusal(document: Document, today: date) -> tuple[str, str]:
    if document.status == "disposed":
        return "disposed", "the document was disposed already; its tombstone is kept"
    if document.held:
        return "legal_hold", "the document is under legal hold"
    if document.retain_until is None or document.retain_until >= today:
        until = document.retain_until.isoformat() if document.retain_until else "its retention trigger happens"
        return "retention_active", f"the document must be kept until {until} ({document.retention_rule})"
    return "disposition_required", "retention is over: destroy it through a four-eyes disposition batch"


def show_batch(rt: Runtime, actor: Actor, batch_id: str) -> dict[str, Any]:
    with rt.transaction() as session:
        batch = _load(session, batch_id)
        append(session, rt.clock, actor, "disposition.viewed", f"disposition:{batch_id}")
        return batch_view(batch)


def batch_view(batch: DispositionBatch) -> dict[str, Any]:
    return {"id": batch.id, "status": batch.status, "reason": batch.reason, "schedule": batch.schedule,
            "schedule_hash": batch.schedule_hash, "document_count": batch.document_count,
            "proposed_at": isoformat(batch.proposed_at), "proposed_by": batch.proposed_by,
            "approved_at": isoformat(batch.approved_at), "approved_by": batch.approved_by,
            "executed_at": isoformat(batch.executed_at), "executed_by": batch.executed_by,
            "disposed_count": batch.disposed_count, "certificate_id": batch.certificate_id,
            "pdf_certificate_id": batch.pdf_certificate_id, "erasure_request_id": batch.erasure_request_id}


def _load(session: Session, batch_id: str) -> DispositionBatch:
    batch = session.get(DispositionBatch, batch_id)
    if batch is None:
        raise NotFound(f"no disposition batch {batch_id}", code="batch_not_found")
    return batch
