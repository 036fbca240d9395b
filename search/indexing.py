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

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive.models import Document, Extraction
from archive.runtime import Runtime
from search.index import IndexRecord

BATCH = 500


def record_for(session: Session, document: Document) -> IndexRecord:
    version = document.versions[-1]
    extraction = session.get(Extraction, (document.id, version.number))
    fields = extraction.fields if extraction else {}
    references = tuple(r for r in (document.external_reference, fields.get("number"),
                                   *fields.get("order_references", [])) if r)
    return IndexRecord(
        id=document.id, doc_type=document.doc_type, customer_number=document.customer.number,
        customer_name=document.customer.name, order_number=document.order.number if document.order else None,
        title=document.title, filename=version.original_filename, text=extraction.text if extraction else "",
        references=references, document_date=document.document_date, filed_at=document.filed_at,
        amount=_decimal(fields.get("grand_total")), currency=fields.get("currency"), mime_type=version.mime_type,
        status="on_hold" if document.held else "active", restricted=document.restricted, stamp=stamp_for(document, extraction))


def stamp_for(document: Document, extraction: Extraction | None) -> str:
    """Changes whenever the record would: metadata, current version, or a new extraction."""
    parts = [document.doc_type, document.customer_id, document.order_id, document.title, document.document_date,
             document.external_reference, document.current_version, extraction.created_at if extraction else None]
    if document.held:  # appended only when held, so stamps of documents never held stay as they were
        parts.append("on_hold")
    if document.restricted:  # likewise
        parts.append("restricted")
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def index_document(rt: Runtime, document_id: str) -> None:
    with rt.reading() as session:
        document = session.get(Document, document_id)
        live = document is not None and document.status != "disposed"
        record = record_for(session, document) if live else None
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
    """Rebuilds the index from the database in id order, saving a cursor after each batch so it can resume."""
    cursor_file = Path(rt.settings.data_dir) / "reindex.cursor"
    cursor = cursor_file.read_text().strip() if resume and cursor_file.exists() else ""
    if not cursor:
        rt.search.clear()
    with rt.reading() as session:
        total = session.query(Document).count()
    done = 0
    for records in _record_batches(rt, cursor, batch):
        rt.search.upsert(records)
        cursor, done = records[-1].id, done + len(records)
        cursor_file.write_text(cursor)
        if progress:
            progress(ReindexProgress(done, total, cursor))
    rt.search.optimize()
    cursor_file.unlink(missing_ok=True)
    return done


def _record_batches(rt: Runtime, after: str, batch: int) -> Iterator[list[IndexRecord]]:
    while True:
        with rt.reading() as session:
            documents = session.scalars(select(Document).where(Document.id > after, Document.status != "disposed")
                                        .order_by(Document.id).limit(batch).options(selectinload(Document.versions),
                                                              selectinload(Document.customer),
                                                              selectinload(Document.order))).all()
            if not documents:
                return
            records = [record_for(session, d) for d in documents]
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
            documents = session.scalars(select(Document).where(Document.id > after, Document.status != "disposed")
                                        .order_by(Document.id).limit(BATCH)).all()
            if not documents:
                return
            extractions = {(e.document_id, e.version): e for e in session.scalars(
                select(Extraction).where(Extraction.document_id.in_([d.id for d in documents])))}
            stamps = [(d.id, stamp_for(d, extractions.get((d.id, d.current_version)))) for d in documents]
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
