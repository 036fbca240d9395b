"""The order dossier: an order and its documents, grouped by order-to-cash stage, with their relations."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from archive.clock import Clock, isoformat
from archive.customers import find_customer, order_subject
from archive.errors import NotFound
from archive.flags import document_flags, order_flags
from archive.access import readable
from archive.models import Document, DocumentType, Order, Relation
from archive.suggestions import Suggested, key_fields, suggested_for
from audit.log import Actor, append

STAGES = (
    ("intake", "Intake"),
    ("confirmation", "Verification and confirmation"),
    ("fulfilment", "Warehouse and fulfilment"),
    ("shipping", "Shipping and delivery"),
    ("invoicing", "Invoicing and payment"),
    ("closing", "Closing and reporting"),
)
OTHER_STAGE = ("other", "Other documents")


def view_dossier(session: Session, clock: Clock, actor: Actor, customer_number: str,
                 order_number: str) -> dict[str, Any]:
    customer = find_customer(session, customer_number)
    order = session.scalar(select(Order).where(Order.customer_id == customer.id, Order.number == order_number))
    if order is None:
        raise NotFound(f"customer {customer_number} has no order {order_number!r}", code="order_not_found")
    documents = session.scalars(select(Document).where(Document.order_id == order.id)
                                .options(selectinload(Document.versions)).order_by(Document.filed_at)).all()
    withheld = sum(1 for d in documents if not readable(actor, d))
    documents = [d for d in documents if readable(actor, d)]  # restricted cards are left out for most readers
    append(session, clock, actor, "order.viewed", order_subject(customer_number, order_number),
           {"documents": len(documents)} | ({"restricted_withheld": withheld} if withheld else {}))
    suggested = suggested_for(session, documents)
    relations = _relations(session, [d.id for d in documents])
    stages = _stages(session, documents, suggested, relations)
    return {
        "customer": {"number": customer.number, "name": customer.name},
        "order": {"number": order.number, "status": order.status, "order_date": _date(order.order_date),
                  "created_at": isoformat(order.created_at), "closed_at": isoformat(order.closed_at)},
        "stages": stages,
        "relations": relations,
        "flags": order_flags(stages, documents, suggested, clock().date()),
    }


def _stages(session: Session, documents: list[Document], suggested: dict[str, Suggested],
            relations: list[dict[str, str]]) -> list[dict[str, Any]]:
    stage_of = dict(session.execute(select(DocumentType.code, DocumentType.stage)).all())
    settling = {r["source"] for r in relations if r["type"] == "settles"}
    groups: dict[str, list[dict[str, Any]]] = {code: [] for code, _ in (*STAGES, OTHER_STAGE)}
    for document in documents:
        stage = stage_of.get(document.doc_type, "other")
        card = _card(document)
        card["extracted"] = _extracted(suggested[document.id])
        card["flags"] = document_flags(document, suggested[document.id], document.id in settling)
        groups[stage if stage in groups else "other"].append(card)
    return [{"stage": code, "label": label, "present": bool(groups[code]), "documents": groups[code]}
            for code, label in (*STAGES, OTHER_STAGE)]


def _card(document: Document) -> dict[str, Any]:
    current = document.versions[-1]
    return {"id": document.id, "doc_type": document.doc_type, "title": document.title,
            "document_date": _date(document.document_date), "external_reference": document.external_reference,
            "checksum": current.checksum, "mime_type": current.mime_type, "version": current.number,
            "filed_at": isoformat(document.filed_at), "processing": {"status": document.processing_status}}


def _extracted(suggested: Suggested) -> dict[str, Any] | None:
    """Suggestions until confirmed: each key field with its confidence (1.0 once a person confirmed it)."""
    if suggested.source is None and suggested.confirmed_at is None:
        return None
    return {"doc_type": suggested.doc_type, "source": suggested.source, "confidence": suggested.confidence,
            "confirmed_at": isoformat(suggested.confirmed_at), "fields": key_fields(suggested)}


def _relations(session: Session, ids: list[str]) -> list[dict[str, str]]:
    if not ids:
        return []
    rows = session.scalars(select(Relation).where(or_(Relation.source_id.in_(ids), Relation.target_id.in_(ids)))
                           .order_by(Relation.created_at)).all()
    return [{"type": r.type, "source": r.source_id, "target": r.target_id} for r in rows]


def _date(value: Any) -> str | None:
    return value.isoformat() if value else None
