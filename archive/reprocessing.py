"""Asking for processing again: one document or all of them, audited, through the outbox like the first time."""
from __future__ import annotations

from sqlalchemy import select

from archive.errors import Gone, NotFound
from archive.models import Document
from archive.outbox import enqueue
from archive.runtime import Runtime
from audit.log import Actor, append

BATCH = 500


def request_reprocess(rt: Runtime, actor: Actor, document_id: str) -> dict:
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is None:
            raise NotFound(f"no document {document_id}", code="document_not_found")
        if document.status == "disposed":
            raise Gone(f"document {document_id} was disposed; there is nothing to process", code="disposed")
        _requeue(session, rt, actor, document)
    rt.work_committed()
    return {"id": document_id, "status": "queued"}


def request_reprocess_all(rt: Runtime, actor: Actor) -> int:
    """In batches of one transaction each, in id order, so a huge archive never holds one long transaction."""
    after, count = "", 0
    while True:
        with rt.transaction() as session:
            batch = session.scalars(select(Document).where(Document.id > after, Document.status != "disposed")
                                    .order_by(Document.id).limit(BATCH)).all()
            for document in batch:
                _requeue(session, rt, actor, document)
        if not batch:
            break
        after, count = batch[-1].id, count + len(batch)
        rt.work_committed()
    return count


def _requeue(session, rt: Runtime, actor: Actor, document: Document) -> None:
    document.processing_status, document.processing_error = "queued", None
    append(session, rt.clock, actor, "document.reprocess_requested", f"document:{document.id}",
           {"version": document.current_version})
    enqueue(session, rt.clock, "document.process", {"document_id": document.id, "version": document.current_version})
