"""Read models for the UI's overview pages: what needs attention, order completeness, card details.

Each function reads in batches (one query per kind of fact, never one per document) and the public ones append
an audit event like the API's reads do.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.customers import find_customer
from archive.dossiers import STAGES
from archive.models import Document, DocumentType, Extraction, FixityRun, Order
from archive.models_retention import LegalHold, LegalHoldDocument
from audit.log import Actor, append

RECENT = 10
# Which document types count for which column of the reconciliation.
RECONCILIATION = {
    "ordered": ("customer_order", "purchase_order", "order_confirmation"),
    "delivered": ("delivery_note", "shipping_document"),
    "invoiced": ("invoice",),
    "credited": ("credit_note",),
    "paid": ("payment_advice",),
}
AMOUNT_FIELDS = ("grand_total", "amount_due", "net_total")


def attention(session: Session, clock: Clock, actor: Actor, due_classes: list[str]) -> dict[str, Any]:
    """The home page: failures, fixity, what is due for disposition, recent filings."""
    failed = session.scalars(select(Document).where(Document.processing_status == "failed")
                             .order_by(Document.filed_at.desc()).limit(RECENT)).all()
    failed_count = session.scalar(select(func.count()).where(Document.processing_status == "failed"))
    queued = session.scalar(select(func.count()).where(Document.processing_status.in_(("queued", "processing"))))
    due = session.scalar(select(func.count()).where(
        Document.status == "active", Document.held.is_(False), Document.retain_until < clock().date(),
        Document.retention_class.in_(due_classes))) if due_classes else 0
    recent = session.scalars(select(Document).order_by(Document.filed_at.desc()).limit(RECENT)).all()
    append(session, clock, actor, "attention.viewed", None, {"failed": failed_count, "due": due})
    return {"failed": [_line(d) for d in failed], "failed_count": failed_count, "queued_count": queued,
            "due_count": due, "fixity": _fixity(session), "recent": [_line(d) for d in recent]}


def _fixity(session: Session) -> dict[str, Any] | None:
    run = session.scalars(select(FixityRun).order_by(FixityRun.started_at.desc()).limit(1)).first()
    if run is None:
        return None
    problems = run.problems or {}
    count = sum(len(v) if isinstance(v, list) else int(bool(v)) for v in problems.values())
    return {"started_at": isoformat(run.started_at), "finished_at": isoformat(run.finished_at),
            "checked": run.checked, "problems": count, "ok": count == 0}


def _line(document: Document) -> dict[str, Any]:
    return {"id": document.id, "doc_type": document.doc_type, "title": document.title,
            "customer": document.customer.number, "order": document.order.number if document.order else None,
            "filed_at": isoformat(document.filed_at), "error": document.processing_error}


def order_completeness(session: Session, customer_number: str) -> dict[str, dict[str, Any]]:
    """Per order number: which of the six stages have documents, and whether every stage is covered."""
    customer = find_customer(session, customer_number)
    rows = session.execute(select(Order.number, DocumentType.stage).join(Document, Document.order_id == Order.id)
                           .join(DocumentType, DocumentType.code == Document.doc_type)
                           .where(Order.customer_id == customer.id).distinct()).all()
    present: dict[str, set[str]] = defaultdict(set)
    for number, stage in rows:
        present[number].add(stage)
    codes = [code for code, _ in STAGES]
    return {number: {"stages": [c for c in codes if c in stages], "complete": all(c in stages for c in codes),
                     "count": sum(1 for c in codes if c in stages)} for number, stages in present.items()}


def card_details(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """What a dossier card adds to the dossier view: retention, hold, status, extracted number and amount."""
    details: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        for row in session.execute(select(Document.id, Document.retain_until, Document.held, Document.status,
                                          Document.current_version).where(Document.id.in_(chunk))):
            details[row.id] = {"retain_until": _iso(row.retain_until), "held": row.held, "status": row.status,
                               "version": row.current_version, "fields": {}, "confidence": None}
        for extraction in session.scalars(select(Extraction).where(Extraction.document_id.in_(chunk))):
            detail = details.get(extraction.document_id)
            if detail is not None and extraction.version == detail["version"]:
                detail["fields"], detail["confidence"] = plain_fields(extraction.fields), extraction.confidence
    return details


def plain_fields(fields: dict[str, Any] | None) -> dict[str, Any]:
    """Extracted fields as plain values, whether stored bare or as {value, confidence, provenance}."""
    return {k: (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in (fields or {}).items()}


def reconciliation(cards: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Ordered against delivered against invoiced against paid, from the documents' extracted amounts."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    currencies: set[str] = set()
    for card in cards:
        column = next((c for c, types in RECONCILIATION.items() if card["doc_type"] in types), None)
        if column is None:
            continue
        counts[column] += 1
        amount = _amount(card.get("fields") or {})
        if amount is not None:
            totals[column] += amount
            currencies.update([card["fields"]["currency"]] if card["fields"].get("currency") else [])
    rows = {c: {"documents": counts[c], "amount": str(totals[c]) if c in totals else None} for c in RECONCILIATION}
    invoiced = totals.get("invoiced", Decimal(0)) - totals.get("credited", Decimal(0))
    open_amount = invoiced - totals.get("paid", Decimal(0)) if "invoiced" in totals else None
    return {"rows": rows, "currency": ", ".join(sorted(currencies)) or None,
            "open_amount": str(open_amount) if open_amount is not None else None,
            "ordered_vs_invoiced": _compare(totals, "ordered", invoiced)}


def _compare(totals: dict[str, Decimal], column: str, invoiced: Decimal) -> str | None:
    if column not in totals or "invoiced" not in totals:
        return None
    return "equal" if totals[column] == invoiced else ("over" if invoiced > totals[column] else "under")


def _amount(fields: dict[str, Any]) -> Decimal | None:
    for name in AMOUNT_FIELDS:
        value = fields.get(name)
        if value not in (None, ""):
            try:
                return Decimal(str(value))
            except InvalidOperation:
                return None
    return None


def document_holds(session: Session, document_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(LegalHold).join(LegalHoldDocument, LegalHoldDocument.hold_id == LegalHold.id)
                           .where(LegalHoldDocument.document_id == document_id)
                           .order_by(LegalHold.placed_at.desc())).all()
    return [{"id": h.id, "status": "released" if h.released_at else "active", "reason": h.reason,
             "case_reference": h.case_reference, "placed_at": isoformat(h.placed_at), "placed_by": h.placed_by}
            for h in rows]


def document_extraction(session: Session, document_id: str, version: int) -> dict[str, Any] | None:
    extraction = session.get(Extraction, (document_id, version))
    if extraction is None:
        return None
    return {"source": extraction.source, "doc_type": extraction.doc_type, "confidence": extraction.confidence,
            "fields": extraction.fields or {}, "created_at": isoformat(extraction.created_at),
            "text_excerpt": (extraction.text or "")[:2000]}


def missing_stages(stages: list[dict[str, Any]]) -> list[str]:
    return [s["stage"] for s in stages if s["stage"] != "other" and not s["present"]]



def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def document_types(session: Session) -> list[dict[str, str]]:
    return [{"code": t.code, "label": t.label, "stage": t.stage}
            for t in session.scalars(select(DocumentType).order_by(DocumentType.label))]


def list_batches(session: Session, clock: Clock, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    from retention.disposition import batch_view
    from archive.models_retention import DispositionBatch
    batches = [batch_view(b) for b in session.scalars(select(DispositionBatch)
                                                     .order_by(DispositionBatch.proposed_at.desc()).limit(limit))]
    append(session, clock, actor, "disposition.listed", None, {"returned": len(batches)})
    return batches


def list_accounts(session: Session, clock: Clock, actor: Actor) -> dict[str, Any]:
    from archive.models import ApiToken, User
    users = [{"id": u.id, "username": u.username, "role": u.role, "active": u.active, "language": u.language,
              "created_at": isoformat(u.created_at)} for u in session.scalars(select(User).order_by(User.username))]
    tokens = [{"id": t.id, "name": t.name, "user": t.user.username if t.user else None, "scopes": t.scopes,
               "created_at": isoformat(t.created_at), "expires_at": isoformat(t.expires_at),
               "last_used_at": isoformat(t.last_used_at), "revoked_at": isoformat(t.revoked_at)}
              for t in session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc()))]
    append(session, clock, actor, "account.listed", None, {"users": len(users), "tokens": len(tokens)})
    return {"users": users, "tokens": tokens}
