"""The review queue: documents that need a person, each with its reasons.

Reasons are raised by linking (archive/linking.py) and stay one row per (document, reason, detail). A reason that no
longer applies is resolved as `no_longer_applies`; confirming a document resolves all its open reasons as
`confirmed`, and a resolved reason is never raised again for the same detail.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.access import readable
from archive.clock import Clock, isoformat
from archive.models import Document
from archive.models_understanding import ReviewItem
from audit.log import Actor, append

REASONS = {
    "order_reference_unresolved": "the order it cites is not in the archive",
    "order_customer_mismatch": "the order it cites belongs to another customer",
    "invoice_reference_unresolved": "the invoice it cites is not in the archive",
    "delivery_reference_unresolved": "the delivery note it cites is not in the archive",
    "customer_mismatch": "its customer number or VAT id points to another customer than the filer's",
    "customer_reference_unresolved": "the customer number it carries is not in the archive",
    "doc_type_disagrees": "its content reads as another document type than the one it was filed as",
    "low_confidence": "its fields were read with low confidence",
    "invoice_without_order_reference": "the invoice cites no order and is filed under none",
    "delivery_note_without_order": "the delivery note belongs to no order",
    "payment_advice_unmatched": "the payment advice settles no invoice in the archive",
}


def sync_items(session: Session, clock: Clock, actor: Actor, document_id: str,
               wanted: dict[tuple[str, str], str]) -> None:
    """Opens the wanted (reason, detail) items not yet recorded; resolves open ones no longer wanted."""
    existing = {(i.reason, i.detail): i for i in session.scalars(
        select(ReviewItem).where(ReviewItem.document_id == document_id))}
    for key, message in wanted.items():
        if key not in existing:
            session.add(ReviewItem(document_id=document_id, reason=key[0], detail=key[1][:200], message=message,
                                   created_at=clock()))
            append(session, clock, actor, "review.opened", f"document:{document_id}",
                   {"reason": key[0], "detail": key[1]})
    for key, item in existing.items():
        if item.resolved_at is None and key not in wanted:
            _resolve(session, clock, actor, item, "no_longer_applies")
    session.flush()


def resolve_all(session: Session, clock: Clock, actor: Actor, document_id: str, resolution: str) -> list[str]:
    items = session.scalars(select(ReviewItem).where(ReviewItem.document_id == document_id,
                                                     ReviewItem.resolved_at.is_(None))).all()
    for item in items:
        _resolve(session, clock, actor, item, resolution)
    return sorted({item.reason for item in items})


def _resolve(session: Session, clock: Clock, actor: Actor, item: ReviewItem, resolution: str) -> None:
    item.resolved_at, item.resolved_by, item.resolution = clock(), actor.name, resolution
    append(session, clock, actor, "review.resolved", f"document:{item.document_id}",
           {"reason": item.reason, "detail": item.detail, "resolution": resolution})


def open_reasons(session: Session, document_id: str) -> list[dict[str, Any]]:
    items = session.scalars(select(ReviewItem).where(ReviewItem.document_id == document_id,
                                                     ReviewItem.resolved_at.is_(None))
                            .order_by(ReviewItem.created_at, ReviewItem.reason)).all()
    return [_reason(item) for item in items]


def list_queue(session: Session, clock: Clock, actor: Actor, after: str | None, limit: int) -> dict[str, Any]:
    """One entry per document with open reasons, ordered by document id (sortable), `after` being the cursor."""
    query = (select(ReviewItem.document_id).where(ReviewItem.resolved_at.is_(None)).distinct()
             .order_by(ReviewItem.document_id).limit(limit + 1))
    if after:
        query = query.where(ReviewItem.document_id > after)
    ids = list(session.scalars(query))
    page, more = ids[:limit], len(ids) > limit
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(page)))} if page else {}
    visible = [i for i in page if readable(actor, documents[i])]  # restricted documents: records managers only
    items: dict[str, list[dict[str, Any]]] = {}
    for item in session.scalars(select(ReviewItem).where(ReviewItem.document_id.in_(page),
                                                         ReviewItem.resolved_at.is_(None))
                                .order_by(ReviewItem.created_at, ReviewItem.reason)) if page else []:
        items.setdefault(item.document_id, []).append(_reason(item))
    append(session, clock, actor, "review.listed", None, {"after": after, "count": len(page)})
    return {"items": [_entry(documents[i], items.get(i, [])) for i in visible],
            "next_cursor": page[-1] if more else None}


def _entry(document: Document, reasons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"document": {"id": document.id, "doc_type": document.doc_type, "title": document.title,
                         "customer": {"number": document.customer.number, "name": document.customer.name},
                         "order": {"number": document.order.number} if document.order else None,
                         "filed_at": isoformat(document.filed_at)},
            "reasons": reasons}


def _reason(item: ReviewItem) -> dict[str, Any]:
    return {"code": item.reason, "detail": item.detail or None, "message": item.message,
            "opened_at": isoformat(item.created_at)}
