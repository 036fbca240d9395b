"""Read models for the UI's pages: what needs attention, order completeness, card details, suggestions to confirm.

Each function reads in batches (one query per kind of fact, never one per document) and the public ones append
an audit event like the API's reads do.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.confirmation import NESTED as CONFIRMABLE_NESTED  # seller/buyer {name, vat_id, id}, payment {iban, reference}
from archive.customers import find_customer
from archive.documents import load
from archive.dossiers import STAGES
from archive.review import open_reasons
from archive.suggestions import KEY_FIELDS, suggested_for
from archive.models import Document, DocumentType, FixityRun, Order
from archive.models_retention import LegalHold, LegalHoldDocument
from audit.log import Actor, append

RECENT = 10


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
    """What a dossier card adds to the dossier view: retention, legal hold, status."""
    details: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        for row in session.execute(select(Document.id, Document.retain_until, Document.held, Document.status)
                                   .where(Document.id.in_(ids[start:start + 900]))):
            details[row.id] = {"retain_until": _iso(row.retain_until), "held": row.held, "status": row.status}
    return details


def document_holds(session: Session, document_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(LegalHold).join(LegalHoldDocument, LegalHoldDocument.hold_id == LegalHold.id)
                           .where(LegalHoldDocument.document_id == document_id)
                           .order_by(LegalHold.placed_at.desc())).all()
    return [{"id": h.id, "status": "released" if h.released_at else "active", "reason": h.reason,
             "case_reference": h.case_reference, "placed_at": isoformat(h.placed_at), "placed_by": h.placed_by}
            for h in rows]


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


def document_suggestion(session: Session, document_id: str) -> dict[str, Any] | None:
    """What was read from the document, field by field, with confidence, provenance and who confirmed it."""
    document = load(session, document_id)
    suggested = suggested_for(session, [document])[document_id]
    reasons = open_reasons(session, document_id)
    if suggested.source is None and suggested.confirmed_at is None:
        return {"fields": [], "reasons": reasons, "source": None} if reasons else None
    names = [n for n in KEY_FIELDS if n in suggested.fields] + sorted(set(suggested.fields) - set(KEY_FIELDS))
    fields = [{"name": name, "value": suggested.fields[name], "confidence": suggested.field_confidence(name),
               "provenance": suggested.provenance.get(name) or suggested.provenance.get(f"{name}[0]"),
               "confirmed": name in suggested.confirmed}
              for name in names if suggested.fields[name] not in (None, [], {})]
    return {"source": suggested.source, "doc_type": suggested.doc_type, "confidence": suggested.confidence,
            "confirmed_at": isoformat(suggested.confirmed_at), "fields": fields, "reasons": reasons,
            "values": {name: suggested.fields.get(name) for name in names}}


def confirmation_body(session: Session, document_id: str, form: dict[str, str]) -> dict[str, Any]:
    """The confirm request for what a person submitted: only the fields whose value they changed are corrections."""
    document = load(session, document_id)
    suggested = suggested_for(session, [document])[document_id]
    corrections: dict[str, Any] = {}
    for name in CONFIRMABLE:
        if name not in form:
            continue
        submitted, shown = form[name].strip(), form_value(suggested.fields.get(name))
        if submitted != shown:
            corrections[name] = _list(submitted) if name in LIST_FIELDS else (submitted or None)
    corrections.update(_nested_corrections(suggested.fields, form))
    body: dict[str, Any] = {"fields": corrections} if corrections else {}
    if form.get("doc_type") and form["doc_type"] != (suggested.doc_type or document.doc_type):
        body["doc_type"] = form["doc_type"]
    return body


def _nested_corrections(fields: dict[str, Any], form: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`seller.vat_id`, `payment.iban`...: each group gets only its changed parts (the others are kept)."""
    corrections: dict[str, dict[str, Any]] = {}
    for group, keys in CONFIRMABLE_NESTED.items():
        shown_group = fields.get(group) if isinstance(fields.get(group), dict) else {}
        changed = {key: form[f"{group}.{key}"].strip() or None for key in keys if f"{group}.{key}" in form
                   and form[f"{group}.{key}"].strip() != form_value(shown_group.get(key))}
        if changed:
            corrections[group] = changed
    return corrections


CONFIRMABLE = ("number", "issue_date", "due_date", "currency", "net_total", "tax_total", "grand_total", "amount_due",
               "order_references", "delivery_references", "invoice_references")
LIST_FIELDS = ("order_references", "delivery_references", "invoice_references")


def form_value(value: Any) -> str:
    """How a field is shown in the confirm form: lists comma-separated, nothing as empty."""
    if value in (None, [], {}):
        return ""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
