"""From documents to index records, and keeping the index equal to the database.

The index is derived data: `reindex` rebuilds it in batches (constant memory, resumable), `check` compares the
database's stamps with the index's and reports or repairs drift. Outbox tasks keep it current in between.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from archive.models import Customer, Document, DocumentVersion, Extraction, Order
from archive.runtime import Runtime
from search.index import IndexRecord

BATCH = 500


# What a stamp depends on, and what a record adds to it: one row per document, read with its current version,
# customer, order and extraction in one query (never object by object, which made reindex slow).
_STAMP_COLUMNS = (Document.id, Document.doc_type, Document.customer_id, Document.order_id, Document.title,
                  Document.document_date, Document.external_reference, Document.current_version, Document.held,
                  Document.restricted, Extraction.created_at.label("extracted_at"))
_RECORD_ONLY_COLUMNS = (
    Document.filed_at, Customer.number.label("customer_number"), Customer.name.label("customer_name"),
    Order.number.label("order_number"), DocumentVersion.original_filename, DocumentVersion.mime_type,
    Extraction.text, Extraction.fields)


def _stamp_rows(*conditions: Any, limit: int | None = None) -> Select:
    current = (Extraction.document_id == Document.id) & (Extraction.version == Document.current_version)
    return (select(*_STAMP_COLUMNS).outerjoin(Extraction, current)
            .where(*conditions).order_by(Document.id).limit(limit))


def _record_rows(*conditions: Any, limit: int | None = None) -> Select:
    version = (DocumentVersion.document_id == Document.id) & (DocumentVersion.number == Document.current_version)
    return (_stamp_rows(*conditions, limit=limit).add_columns(*_RECORD_ONLY_COLUMNS)
            .join(Customer, Customer.id == Document.customer_id).outerjoin(Order, Order.id == Document.order_id)
            .join(DocumentVersion, version))


def record_for(session: Session, document_id: str) -> IndexRecord | None:
    """The record of a document, or None when it is gone or disposed (it then leaves the index)."""
    row = session.execute(_record_rows(Document.id == document_id, Document.status != "disposed")).one_or_none()
    return _record(row) if row is not None else None


def _record(row: Row) -> IndexRecord:
    fields = row.fields or {}
    references = tuple(r for r in (row.external_reference, fields.get("number"),
                                   *fields.get("order_references", [])) if r)
    return IndexRecord(
        id=row.id, doc_type=row.doc_type, customer_number=row.customer_number, customer_name=row.customer_name,
        order_number=row.order_number, title=row.title, filename=row.original_filename, text=row.text or "",
        references=references, document_date=row.document_date, filed_at=row.filed_at,
        amount=_decimal(fields.get("grand_total")), currency=fields.get("currency"), mime_type=row.mime_type,
        status="on_hold" if row.held else "active", restricted=row.restricted, stamp=stamp_for(row))


def stamp_for(row: Row) -> str:
    """Changes whenever the record would: metadata, current version, or a new extraction."""
    parts = [row.doc_type, row.customer_id, row.order_id, row.title, row.document_date, row.external_reference,
             row.current_version, row.extracted_at]
    if row.held:  # appended only when held, so stamps of documents never held stay as they were
        parts.append("on_hold")
    if row.restricted:  # likewise
        parts.append("restricted")
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def index_document(rt: Runtime, document_id: str) -> None:
    with rt.reading() as session:
        record = record_for(session, document_id)
    if record is None:
        rt.search.delete([document_id])
    else:
        rt.search.upsert([record])


def index_task(rt: Runtime, payload: dict[str, Any]) -> None:
    index_document(rt, payload["document_id"])


def unindex_task(rt: Runtime, payload: dict[str, Any]) -> None:
    """One document (`document_id`) or a disposition chunk (`document_ids`)."""
    rt.search.delete(payload["document_ids"] if "document_ids" in payload else [payload["document_id"]])


@dataclass
class ReindexProgress:
    done: int
    total: int
    cursor: str


def reindex(rt: Runtime, resume: bool = False, progress: Callable[[ReindexProgress], None] | None = None,
            batch: int = BATCH) -> int:
    """Rebuilds the index from the database in id order; the cursor file follows what the index has committed, so
    an interrupted rebuild resumes after it."""
    cursor_file = Path(rt.settings.data_dir) / "reindex.cursor"
    cursor = cursor_file.read_text().strip() if resume and cursor_file.exists() else ""
    if not cursor:
        rt.search.clear()
    indexed = Document.status != "disposed"
    with rt.reading() as session:
        total = session.query(Document).filter(indexed).count()
        done = session.query(Document).filter(indexed, Document.id <= cursor).count() if cursor else 0
    start = done
    with rt.search.bulk(committed=cursor_file.write_text):  # the cursor moves when the index has committed
        for records in _record_batches(rt, cursor, batch):
            rt.search.upsert(records)
            done += len(records)
            if progress:
                progress(ReindexProgress(done, total, records[-1].id))
    rt.search.optimize()
    cursor_file.unlink(missing_ok=True)
    return done - start


def _record_batches(rt: Runtime, after: str, batch: int) -> Iterator[list[IndexRecord]]:
    while True:
        with rt.reading() as session:
            records = [_record(row) for row in session.execute(
                _record_rows(Document.id > after, Document.status != "disposed", limit=batch))]
        if not records:
            return
        yield records
        after = records[-1].id


@dataclass
class Drift:
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)

    def as_dict(self) -> dict[str, Any]:
        return {"clean": self.clean, "missing": len(self.missing), "stale": len(self.stale),
                "extra": len(self.extra), "examples": (self.missing + self.stale + self.extra)[:20]}


def check(rt: Runtime, repair: bool = False) -> Drift:
    """Merges the database's (id, stamp) stream with the index's, both in id order: constant memory."""
    drift = Drift()
    indexed = iter(rt.search.stamps())
    current = next(indexed, None)
    for document_id, stamp in _database_stamps(rt):
        while current is not None and current[0] < document_id:
            drift.extra.append(current[0])
            current = next(indexed, None)
        if current is None or current[0] != document_id:
            drift.missing.append(document_id)
            continue
        if current[1] != stamp:
            drift.stale.append(document_id)
        current = next(indexed, None)
    while current is not None:
        drift.extra.append(current[0])
        current = next(indexed, None)
    if repair:
        _repair(rt, drift)
    return drift


def _database_stamps(rt: Runtime) -> Iterator[tuple[str, str]]:
    after = ""
    while True:
        with rt.reading() as session:
            stamps = [(row.id, stamp_for(row)) for row in session.execute(
                _stamp_rows(Document.id > after, Document.status != "disposed", limit=BATCH))]
        if not stamps:
            return
        yield from stamps
        after = stamps[-1][0]


def _repair(rt: Runtime, drift: Drift) -> None:
    if drift.extra:
        rt.search.delete(drift.extra)
    for document_id in drift.missing + drift.stale:
        index_document(rt, document_id)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
