"""Per document of an erasure request, where it stands now:

  disposed      destroyed by batch B, with the certificate(s) that prove it
  held          kept by the legal hold(s) H whatever its retention says (and restricted)
  proposed      in disposition batch B, not executed yet (status proposed, approved or executing)
  restricted    kept, restricted, until `retain_until` (null: its trigger has not happened yet)
  due           restricted, retention over: the next disposition proposal takes it
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import as_utc, isoformat
from archive.models import Document
from archive.models_retention import (DispositionBatch, DispositionItem, ErasureRequestDocument, LegalHold,
                                      LegalHoldDocument)

PENDING = ("proposed", "approved", "executing")


def document_states(session: Session, request_id: str, today: date) -> list[dict[str, Any]]:
    rows = session.execute(select(Document.id, Document.doc_type, Document.status, Document.held,
                                  Document.restricted, Document.retain_until, Document.disposed_at,
                                  ErasureRequestDocument.found)
                           .join(ErasureRequestDocument, ErasureRequestDocument.document_id == Document.id)
                           .where(ErasureRequestDocument.request_id == request_id).order_by(Document.id)).all()
    ids = [r.id for r in rows]
    batches = _batches(session, ids)
    holds = _holds(session, ids)
    return [_state(row, batches.get(row.id, []), holds.get(row.id, []), today) for row in rows]


def _state(row: Any, batches: list[Any], holds: list[str], today: date) -> dict[str, Any]:
    entry = {"id": row.id, "doc_type": row.doc_type, "found": row.found, "restricted": row.restricted,
             "retain_until": row.retain_until.isoformat() if row.retain_until else None}
    done = [b for b in batches if b.outcome == "disposed"]
    pending = [b for b in batches if b.outcome is None and b.status in PENDING]
    if row.status == "disposed":
        batch = done[0] if done else None
        return entry | {"state": "disposed", "disposed_at": isoformat(as_utc(row.disposed_at)),
                        "batch": batch.id if batch else None,
                        "certificate": batch.certificate_id if batch else None,
                        "pdf_certificate": batch.pdf_certificate_id if batch else None}
    if row.held:
        return entry | {"state": "held", "holds": holds}
    if pending:
        return entry | {"state": "proposed", "batch": pending[0].id, "batch_status": pending[0].status}
    if row.retain_until is not None and row.retain_until < today:
        return entry | {"state": "due"}
    return entry | {"state": "restricted"}


def _batches(session: Session, ids: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for start in range(0, len(ids), 1000):
        for row in session.execute(
                select(DispositionItem.document_id, DispositionItem.outcome, DispositionBatch.id,
                       DispositionBatch.status, DispositionBatch.certificate_id, DispositionBatch.pdf_certificate_id)
                .join(DispositionBatch, DispositionBatch.id == DispositionItem.batch_id)
                .where(DispositionItem.document_id.in_(ids[start:start + 1000]))
                .order_by(DispositionBatch.proposed_at.desc())):
            found.setdefault(row.document_id, []).append(row)
    return found


def _holds(session: Session, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 1000):
        for document_id, hold_id in session.execute(
                select(LegalHoldDocument.document_id, LegalHold.id)
                .join(LegalHold, LegalHold.id == LegalHoldDocument.hold_id)
                .where(LegalHoldDocument.document_id.in_(ids[start:start + 1000]), LegalHold.released_at.is_(None))
                .order_by(LegalHold.placed_at)):
            found.setdefault(document_id, []).append(hold_id)
    return found
