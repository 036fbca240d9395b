"""Filing: the whole synchronous path, from a spooled upload to a receipt.

1. The upload is already spooled, hashed and size-checked (archive.hashing.Spool).
2. Its type is detected from content and checked against the allow-list.
3. The references are checked in a read-only snapshot, so bad input stores nothing.
4. The blob is written (fsync, link, fsync the directory) before the transaction, outside the database's single
   writer slot, so concurrent filers sync their files in parallel.
5. In one transaction: the references are checked again, then the document and version rows, relations, the audit
   event and the outbox row are inserted. A crash before commit leaves an orphan blob only. Concurrent filers share
   that transaction (archive.group_commit), each in a savepoint of its own, so they share the write lock and the
   commit's sync, and one that fails rolls back alone.
6. After commit the receipt is returned; only then may anyone be told "filed".
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import idempotency
from archive.clock import isoformat
from archive.customers import customer_id_for, order_id_for
from archive.errors import Gone, InvalidInput, NotFound
from archive.hashing import Spool
from archive.metadata import Filing, invalid
from archive.mime import detect_allowed
from archive.ids import new_id
from archive.models import Blob, Document, DocumentType, DocumentVersion, OutboxItem, Relation
from archive.models_retention import LegalHoldDocument
from archive.outbox import enqueue, outbox_row
from archive.runtime import Runtime
from audit.log import Actor, append, append_many
from retention.holds import catch_new
from retention.policies import assign_at_filing

MAX_FILENAME = 1000
RACE_RETRIES = 3
# Per database, the document types seen to exist. Types are never removed, so a known one needs no look before the
# blob is written; the filing transaction checks again either way.
_KNOWN_TYPES: dict[str, set[str]] = {}

# The filing transaction's statements, built once: a statement built anew is keyed for the compiled cache anew.
_DOCUMENT_TYPE = select(DocumentType.code).where(DocumentType.code == bindparam("code"))
_BLOB_EXISTS = select(Blob.checksum).where(Blob.checksum == bindparam("checksum"))
_SAME_CONTENT = (select(Document.id).join(DocumentVersion, DocumentVersion.document_id == Document.id)
                 .where(DocumentVersion.checksum == bindparam("checksum"),
                        Document.customer_id == bindparam("customer_id"))
                 .order_by(Document.filed_at).limit(1))
_SAME_CONTENT_IN_ORDER = _SAME_CONTENT.where(Document.order_id == bindparam("order_id"))
_SAME_CONTENT_WITHOUT_ORDER = _SAME_CONTENT.where(Document.order_id.is_(None))
_INSERT_DOCUMENT, _INSERT_VERSION = insert(Document.__table__), insert(DocumentVersion.__table__)
_INSERT_BLOB, _INSERT_OUTBOX = insert(Blob.__table__), insert(OutboxItem.__table__)


def file_document(rt: Runtime, spool: Spool, filing: Filing, actor: Actor, filename: str | None = None,
                  channel: str = "api", idempotency_key: str | None = None) -> dict[str, Any]:
    mime_type = _checked_content(spool)
    _check_references(rt, filing)
    storage_key = rt.blobs.put(spool)
    receipt = _retry_on_race(lambda: _file_once(rt, spool, storage_key, filing, actor, mime_type, filename, channel,
                                                idempotency_key))
    rt.work_committed()
    return receipt


def file_generated(rt: Runtime, spool: Spool, filing: Filing, actor: Actor, mime_type: str,
                   filename: str) -> dict[str, Any]:
    """Files content the archive produced itself (disposition certificates): its type is known, not detected."""
    spool.finish()
    storage_key = rt.blobs.put(spool)
    receipt = _retry_on_race(lambda: _file_once(rt, spool, storage_key, filing, actor, mime_type, filename,
                                                "system", None))
    rt.work_committed()
    return receipt


def _file_once(rt: Runtime, spool: Spool, storage_key: str, filing: Filing, actor: Actor, mime_type: str,
               filename: str | None, channel: str, idempotency_key: str | None) -> dict[str, Any]:
    return rt.in_shared_transaction(lambda session: _file_in(session, rt, spool, storage_key, filing, actor,
                                                             mime_type, filename, channel, idempotency_key))


def _file_in(session: Session, rt: Runtime, spool: Spool, storage_key: str, filing: Filing, actor: Actor,
             mime_type: str, filename: str | None, channel: str, idempotency_key: str | None) -> dict[str, Any]:
    earlier = idempotency.recall(session, actor, idempotency_key, spool.checksum)
    if earlier is not None:
        return earlier
    require_document_type(session, filing.doc_type)
    _require_targets(session, filing.relations)
    customer_id = customer_id_for(session, rt.clock, actor, filing.customer_number, filing.customer_name)
    order_id = (order_id_for(session, rt.clock, actor, customer_id, filing.order_number)
                if filing.order_number else None)
    duplicate = None if filing.allow_duplicate else _same_content(session, spool.checksum, customer_id, order_id)
    if duplicate is not None:
        receipt = _duplicate_receipt(session, rt, actor, duplicate, spool.checksum)
    else:
        receipt = _file_new(session, rt, spool, storage_key, filing, actor, customer_id, order_id, mime_type,
                            filename, channel)
    idempotency.remember(session, rt.clock, actor, idempotency_key, spool.checksum, receipt)
    return receipt


def add_version(rt: Runtime, document_id: str, spool: Spool, actor: Actor, filename: str | None = None,
                reason: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    mime_type = _checked_content(spool)
    _check_document_takes_versions(rt, document_id)
    storage_key = rt.blobs.put(spool)
    receipt = _retry_on_race(lambda: _add_version_once(rt, document_id, spool, storage_key, actor, mime_type,
                                                       filename, reason, idempotency_key))
    rt.work_committed()
    return receipt


def _add_version_once(rt: Runtime, document_id: str, spool: Spool, storage_key: str, actor: Actor, mime_type: str,
                      filename: str | None, reason: str | None, idempotency_key: str | None) -> dict[str, Any]:
    with rt.transaction() as session:
        earlier = idempotency.recall(session, actor, idempotency_key, spool.checksum)
        if earlier is not None:
            return earlier
        document = _document_taking_versions(session, document_id, lock=True)
        version = _store_version(session, rt, spool, storage_key, document, document.current_version + 1, mime_type,
                                 filename, actor, reason)
        document.current_version = version.number
        document.processing_status = "queued"
        event = append(session, rt.clock, actor, "document.version_added", f"document:{document.id}",
                       {**_content_details(version), "reason": reason})
        enqueue(session, rt.clock, "document.process", {"document_id": document.id, "version": version.number})
        receipt = receipt_for(document, version, event.seq)
        idempotency.remember(session, rt.clock, actor, idempotency_key, spool.checksum, receipt)
        return receipt


def _retry_on_race(attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Concurrent filers may race to create the same customer, order or idempotency key (PostgreSQL).

    The loser's transaction rolls back whole; running it again finds the winner's rows.
    """
    for _ in range(RACE_RETRIES - 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    return attempt()


def receipt_for(document: Document, version: DocumentVersion, audit_seq: int,
                duplicate: bool = False) -> dict[str, Any]:
    return {"id": document.id, "version": version.number, "checksum": version.checksum, "size": version.size,
            "mime_type": version.mime_type, "doc_type": document.doc_type, "filed_at": isoformat(version.created_at),
            "audit_seq": audit_seq, "duplicate": duplicate}


def _checked_content(spool: Spool) -> str:
    spool.finish()
    if spool.size == 0:
        raise InvalidInput("file: the file is empty", code="empty_file", field="file")
    return detect_allowed(spool.path)


def _file_new(session: Session, rt: Runtime, spool: Spool, storage_key: str, filing: Filing, actor: Actor,
              customer_id: str, order_id: str | None, mime_type: str, filename: str | None,
              channel: str) -> dict[str, Any]:
    """Every filing runs this, so its rows go in as Core inserts: the ORM's unit of work would cost more than
    the statements themselves. The transient Document only carries the values retention and holds read."""
    now = rt.clock()
    document = Document(id=new_id(), doc_type=filing.doc_type, customer_id=customer_id,
                        order_id=order_id, title=filing.title, document_date=filing.document_date,
                        external_reference=filing.external_reference, current_version=1, filed_at=now,
                        filed_by=actor.name, source_channel=channel, processing_status="queued")
    assign_at_filing(session, rt, document, filing.customer_number)
    hold_rows = catch_new(session, rt, document)
    version = DocumentVersion(id=new_id(), document_id=document.id, number=1, checksum=spool.checksum,
                              size=spool.size, mime_type=mime_type, original_filename=_clean_filename(filename),
                              created_at=now, created_by=actor.name, reason=None)
    connection = session.connection()
    _insert_blob_once(connection, spool, storage_key, now)
    connection.execute(_INSERT_DOCUMENT, _column_values(document))
    connection.execute(_INSERT_VERSION, _column_values(version))
    if hold_rows:
        connection.execute(insert(LegalHoldDocument.__table__), hold_rows)
    if filing.relations:
        connection.execute(insert(Relation.__table__), [
            {"id": new_id(), "source_id": document.id, "target_id": target, "type": relation_type,
             "created_at": now, "created_by": actor.name} for relation_type, target in filing.relations])
    entries = [("relation.added", f"document:{document.id}", {"type": relation_type, "target": target})
               for relation_type, target in filing.relations]
    entries.append(("document.filed", f"document:{document.id}",
                    {**_content_details(version), "doc_type": filing.doc_type, "customer": filing.customer_number,
                     "order": filing.order_number, "source_channel": channel,
                     "retain_until": document.retain_until.isoformat() if document.retain_until else None,
                     "retention_class": document.retention_class}))
    audit_seq = append_many(session, rt.clock, actor, entries)
    connection.execute(_INSERT_OUTBOX, outbox_row(rt.clock, "document.process",
                                                  {"document_id": document.id, "version": 1}))
    return receipt_for(document, version, audit_seq)


def _insert_blob_once(connection: Any, spool: Spool, storage_key: str, now: Any) -> None:
    if connection.execute(_BLOB_EXISTS, {"checksum": spool.checksum}).first() is None:
        connection.execute(_INSERT_BLOB, {"checksum": spool.checksum, "size": spool.size,
                                          "storage_key": storage_key, "created_at": now})


def _column_values(instance: Any) -> dict[str, Any]:
    """The column values set on a transient mapped instance; Core fills in defaults for the rest."""
    state = vars(instance)
    return {column.key: state[column.key] for column in type(instance).__mapper__.column_attrs
            if column.key in state}


def _store_version(session: Session, rt: Runtime, spool: Spool, storage_key: str, document: Document, number: int,
                   mime_type: str, filename: str | None, actor: Actor, reason: str | None) -> DocumentVersion:
    _insert_blob_once(session.connection(), spool, storage_key, rt.clock())
    version = DocumentVersion(document_id=document.id, number=number, checksum=spool.checksum, size=spool.size,
                              mime_type=mime_type, original_filename=_clean_filename(filename),
                              created_at=rt.clock(), created_by=actor.name, reason=reason)
    session.add(version)
    session.flush()
    return version


def _duplicate_receipt(session: Session, rt: Runtime, actor: Actor, document: Document,
                       checksum: str) -> dict[str, Any]:
    version = next(v for v in reversed(document.versions) if v.checksum == checksum)
    event = append(session, rt.clock, actor, "document.duplicate_returned", f"document:{document.id}",
                   {"checksum": checksum, "version": version.number})
    return receipt_for(document, version, event.seq, duplicate=True)


def _same_content(session: Session, checksum: str, customer_id: str, order_id: str | None) -> Document | None:
    query, parameters = ((_SAME_CONTENT_IN_ORDER, {"order_id": order_id}) if order_id else
                         (_SAME_CONTENT_WITHOUT_ORDER, {}))
    document_id = session.connection().execute(query, {"checksum": checksum, "customer_id": customer_id,
                                                       **parameters}).scalar()
    return None if document_id is None else session.get(Document, document_id)


def _check_references(rt: Runtime, filing: Filing) -> None:
    known = _KNOWN_TYPES.setdefault(rt.engine.url.render_as_string(), set())
    if filing.doc_type in known and not filing.relations:
        return
    with rt.reading() as session:
        require_document_type(session, filing.doc_type)
        _require_targets(session, filing.relations)
    known.add(filing.doc_type)


def _check_document_takes_versions(rt: Runtime, document_id: str) -> None:
    with rt.reading() as session:
        _document_taking_versions(session, document_id, lock=False)


def _document_taking_versions(session: Session, document_id: str, lock: bool) -> Document:
    document = session.get(Document, document_id, with_for_update=lock)
    if document is None:
        raise NotFound(f"no document {document_id}", code="document_not_found")
    if document.status == "disposed":
        raise Gone(f"document {document_id} was disposed; it takes no new versions", code="disposed")
    return document


def require_document_type(session: Session, doc_type: str) -> None:
    if session.connection().execute(_DOCUMENT_TYPE, {"code": doc_type}).first() is None:
        known = ", ".join(session.scalars(select(DocumentType.code).order_by(DocumentType.code)))
        raise invalid("doc_type", f"unknown document type {doc_type!r}; known types: {known}",
                      code="unknown_document_type")


def _require_targets(session: Session, relations: list[tuple[str, str]]) -> None:
    for index, (_, target) in enumerate(relations):
        if session.get(Document, target) is None:
            raise invalid(f"relations[{index}].target", f"no document {target}", code="unknown_relation_target")


def _content_details(version: DocumentVersion) -> dict[str, Any]:
    return {"version": version.number, "checksum": version.checksum, "size": version.size,
            "mime_type": version.mime_type, "filename": version.original_filename}


def _clean_filename(filename: str | None) -> str | None:
    """Kept only as metadata, never as a path: trimmed and bounded; encoding happens on download."""
    if not filename:
        return None
    return filename[:MAX_FILENAME]
