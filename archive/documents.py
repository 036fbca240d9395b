"""Reading and correcting documents. Every read appends an audit event, like every change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.access import read_permitted, refusal
from archive.blobstore import read_chunks
from archive.clock import isoformat
from archive.customers import get_or_create_customer, get_or_create_order
from archive.errors import Gone, IntegrityFailure, NotFound
from archive.filing import require_document_type
from archive.hashing import hash_chunks
from archive.models import Document, DocumentVersion, Relation
from archive.outbox import enqueue
from archive.processing_view import extracted_view, renditions_view
from archive.runtime import Runtime
from audit.log import Actor, append
from retention.policies import append_outcomes, reassess, retention_view, schedule_of
from retention.schedule import Schedule


RETENTION_INPUTS = {"doc_type", "document_date", "customer", "order"}


def load(session: Session, document_id: str) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"no document {document_id}", code="document_not_found")
    return document


def show_document(rt: Runtime, actor: Actor, document_id: str) -> dict[str, Any]:
    """The metadata view; a restricted document is refused (and the refusal audited) unless the actor may read it."""
    with rt.transaction() as session:
        document = load(session, document_id)
        if read_permitted(session, rt.clock, actor, document, "metadata"):
            append(session, rt.clock, actor, "document.viewed", f"document:{document_id}")
            return document_view(session, document, schedule_of(rt))
    raise refusal(document_id)


def document_view(session: Session, document: Document, schedule: Schedule | None = None) -> dict[str, Any]:
    """`schedule` (the one in force) supplies the legal basis of the document's retention class."""
    current = document.versions[-1]
    return {
        "id": document.id, "doc_type": document.doc_type, "title": document.title,
        "customer": {"number": document.customer.number, "name": document.customer.name},
        "order": {"number": document.order.number} if document.order else None,
        "document_date": _date(document.document_date), "external_reference": document.external_reference,
        "checksum": current.checksum, "size": current.size, "mime_type": current.mime_type,
        "current_version": document.current_version, "filed_at": isoformat(document.filed_at),
        "filed_by": document.filed_by, "source_channel": document.source_channel,
        "processing": {"status": document.processing_status, "error": document.processing_error},
        "extracted": extracted_view(session, document),
        "renditions": renditions_view(session, document.id),
        "versions": [version_view(v) for v in document.versions],
        "relations": relations_of(session, document.id),
        "retention": retention_view(schedule, document),
        "restricted": document.restricted,
    }


def version_view(version: DocumentVersion) -> dict[str, Any]:
    return {"number": version.number, "checksum": version.checksum, "size": version.size,
            "mime_type": version.mime_type, "original_filename": version.original_filename,
            "created_at": isoformat(version.created_at), "created_by": version.created_by, "reason": version.reason}


def relations_of(session: Session, document_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Relation).where(or_(Relation.source_id == document_id,
                                                      Relation.target_id == document_id))
                           .order_by(Relation.created_at)).all()
    return [{"type": r.type, "source": r.source_id, "target": r.target_id,
             "direction": "outgoing" if r.source_id == document_id else "incoming"} for r in rows]


@dataclass
class Content:
    """Bytes verified against the recorded checksum before the first byte is handed out."""

    document_id: str
    version: int
    checksum: str
    size: int
    mime_type: str
    filename: str | None
    stream: BinaryIO


def open_content(rt: Runtime, actor: Actor, document_id: str, version_number: int | None) -> Content:
    with rt.transaction() as session:
        document = load(session, document_id)
        version = version_of(document, version_number)
        allowed = read_permitted(session, rt.clock, actor, document, "content")
        if allowed:
            if document.status == "disposed":
                raise Gone(f"the content of document {document_id} was destroyed on "
                           f"{isoformat(document.disposed_at)} by disposition; its record is kept", code="disposed")
            verify_blob(rt, version.checksum, version.size)
            append(session, rt.clock, actor, "document.downloaded", f"document:{document_id}",
                   {"version": version.number, "checksum": version.checksum})
    if not allowed:
        raise refusal(document_id)
    return Content(document_id, version.number, version.checksum, version.size, version.mime_type,
                   version.original_filename, rt.blobs.open(version.checksum, version.size))


def verify_blob(rt: Runtime, checksum: str, size: int) -> None:
    actual, actual_size = hash_chunks(read_chunks(rt.blobs.open(checksum, size)))
    if actual != checksum or actual_size != size:
        raise IntegrityFailure(f"the stored content no longer matches its checksum {checksum}; it is not served",
                               code="checksum_mismatch")


def update_metadata(rt: Runtime, actor: Actor, document_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    with rt.transaction() as session:
        document = load(session, document_id)
        allowed = read_permitted(session, rt.clock, actor, document, "correction")
        if allowed:
            _correct(session, rt, actor, document, changes)
            view = document_view(session, document, schedule_of(rt))
    if not allowed:
        raise refusal(document_id)
    rt.work_committed()
    return view


def _correct(session: Session, rt: Runtime, actor: Actor, document: Document, changes: dict[str, Any]) -> None:
    diff = _apply(session, rt, actor, document, changes)
    if diff:
        append(session, rt.clock, actor, "document.updated", f"document:{document.id}", {"changes": diff})
        if set(diff) & RETENTION_INPUTS:  # retention follows the corrected facts, and only grows
            append_outcomes(session, rt, actor, reassess(session, schedule_of(rt), [document]))
        enqueue(session, rt.clock, "search.index", {"document_id": document.id})


def _apply(session: Session, rt: Runtime, actor: Actor, document: Document,
           changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    diff: dict[str, dict[str, Any]] = {}
    if "doc_type" in changes:
        require_document_type(session, changes["doc_type"])
    customer = document.customer
    if "customer" in changes:
        customer = get_or_create_customer(session, rt.clock, actor, changes["customer"])
        _record(diff, "customer", document.customer.number, customer.number)
        document.customer_id = customer.id
    if "order" in changes or "customer" in changes:
        number = changes.get("order", document.order.number if document.order else None)
        order = get_or_create_order(session, rt.clock, actor, customer, number) if number else None
        _record(diff, "order", document.order.number if document.order else None, number)
        document.order_id = order.id if order else None
    for name in ("doc_type", "title", "external_reference", "document_date"):
        if name in changes:
            _record(diff, name, _plain(getattr(document, name)), _plain(changes[name]))
            setattr(document, name, changes[name])
    session.flush()
    session.expire(document, ["customer", "order"])
    return diff


def _record(diff: dict[str, dict[str, Any]], name: str, old: Any, new: Any) -> None:
    if old != new:
        diff[name] = {"old": old, "new": new}


def version_of(document: Document, number: int | None) -> DocumentVersion:
    """Version `number` of the document, or its current one."""
    if number is None:
        return document.versions[-1]
    for version in document.versions:
        if version.number == number:
            return version
    raise NotFound(f"document {document.id} has no version {number}", code="version_not_found")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None
