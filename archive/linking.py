"""Dossier linking: attach a document to its order and relate it to the documents it answers.

The filer's metadata wins: a document filed under an order stays there, and its customer is never changed here.
Otherwise the references it carries decide, in this order: the order numbers it cites, then the order of the
invoice it cites (payment advices, credit notes) or of the delivery note it cites (invoices). Relations, from the
document's own type (the filer's):
  order_confirmation `confirms` the order's purchase/customer order;
  delivery_note `fulfils` the order's purchase/customer order (else its confirmation);
  invoice `invoices` the delivery notes it cites, else the order's delivery notes, else its order document;
  payment_advice `settles` the invoices it cites; credit_note `relates-to` the invoices it cites.
A reference that resolves to nothing, or to another customer, becomes a review item. Running it twice changes
nothing: relations and review items are unique, references are rewritten.
"""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.customers import order_subject
from archive.flags import document_flags
from archive.models import Customer, Document, Order, Relation
from archive.models_understanding import DocumentReference
from archive.review import REASONS, sync_items
from archive.suggestions import Suggested, suggested_for
from audit.log import Actor, append, append_many

LINKER = Actor.system("linking")
ORDER_TYPES = ("purchase_order", "customer_order")
LOW_CONFIDENCE = 0.5
DOC_TYPE_TRUSTED = 0.6
CITED_KINDS = {"order": "order_references", "invoice": "invoice_references", "delivery": "delivery_references"}
UNRESOLVED = {"invoice": "invoice_reference_unresolved", "delivery": "delivery_reference_unresolved"}


def link_document(session: Session, clock: Clock, document_id: str, schedule=None) -> None:
    """`schedule` (the retention schedule in force), when given, lets retention follow an order attached here."""
    document = session.get(Document, document_id)
    if document is None or document.status == "disposed":
        return
    for other_id in sorted(_link(session, clock, document, schedule) - {document.id}):
        other = session.get(Document, other_id)
        if other is not None and other.status != "disposed":
            _link(session, clock, other, schedule)


def _link(session: Session, clock: Clock, document: Document, schedule) -> set[str]:
    """Links one document; returns the ids of documents whose links may have changed because of it."""
    suggested = suggested_for(session, [document])[document.id]
    numbers = _store_references(session, document, suggested)
    wanted: dict[tuple[str, str], str] = {}
    _check_customer(session, document, suggested, wanted)
    if document.order_id is None:
        _attach_order(session, clock, document, wanted, schedule)
    settles = _relate(session, clock, document, wanted)
    for flag in document_flags(document, suggested, settles):
        wanted[(flag, "")] = REASONS[flag]
    _quality(document, suggested, wanted)
    sync_items(session, clock, LINKER, document.id, wanted)
    return _affected(session, document, numbers)


def _store_references(session: Session, document: Document, suggested: Suggested) -> set[str]:
    own = {document.external_reference, suggested.get("number")}
    refs = {("number", n) for n in own if n}
    for kind, name in CITED_KINDS.items():
        refs |= {(kind, str(value)) for value in suggested.get(name, []) if value}
    if document.doc_type in ORDER_TYPES and suggested.get("number"):
        refs.add(("order", suggested.get("number")))
    session.execute(delete(DocumentReference).where(DocumentReference.document_id == document.id))
    session.add_all(DocumentReference(document_id=document.id, kind=kind, value=value[:100])
                    for kind, value in sorted(refs))
    session.flush()
    return {value for kind, value in refs if kind == "number"}


def _check_customer(session: Session, document: Document, suggested: Suggested,
                    wanted: dict[tuple[str, str], str]) -> None:
    buyer = suggested.get("buyer", {}) or {}
    number, vat_id = buyer.get("id"), buyer.get("vat_id")
    customer = document.customer
    if number and number != customer.number:
        other = session.scalar(select(Customer).where(Customer.number == number))
        reason = "customer_mismatch" if other is not None else "customer_reference_unresolved"
        wanted[(reason, number)] = REASONS[reason]
    if vat_id and customer.vat_id and vat_id.replace(" ", "").upper() != customer.vat_id.replace(" ", "").upper():
        wanted[("customer_mismatch", vat_id)] = REASONS["customer_mismatch"]


def _attach_order(session: Session, clock: Clock, document: Document, wanted: dict[tuple[str, str], str],
                  schedule) -> None:
    cited = _cited(session, document.id, "order")
    for number in cited:
        order = session.scalar(select(Order).where(Order.customer_id == document.customer_id, Order.number == number))
        if order is not None:
            return _attach(session, clock, document, order, "order_reference", schedule)
    for number in cited:
        elsewhere = session.scalar(select(Order.id).where(Order.number == number).limit(1))
        reason = "order_customer_mismatch" if elsewhere else "order_reference_unresolved"
        wanted[(reason, number)] = REASONS[reason]
    via = {"payment_advice": "invoice", "credit_note": "invoice", "invoice": "delivery"}.get(document.doc_type)
    if via:
        for target in _cited_documents(session, document, via):
            if target.order is not None:
                return _attach(session, clock, document, target.order, f"{via}_reference", schedule)


def _attach(session: Session, clock: Clock, document: Document, order: Order, basis: str, schedule) -> None:
    document.order_id = order.id
    session.flush()
    session.expire(document, ["order"])
    append(session, clock, LINKER, "document.linked", f"document:{document.id}",
           {"order": order_subject(document.customer.number, order.number), "basis": basis})
    if schedule is not None:
        from retention.policies import reassess
        entries = reassess(session, schedule, [document])
        append_many(session, clock, LINKER, [e for e in entries if e[0] == "retention.recomputed"])
        append_many(session, clock, LINKER, [e for e in entries if e[0] != "retention.recomputed"], outcome="denied")


def _relate(session: Session, clock: Clock, document: Document, wanted: dict[tuple[str, str], str]) -> bool:
    """Creates the document's typed relations; returns whether it settles something (payment advices)."""
    doc_type = document.doc_type
    targets: list[tuple[str, Document]] = []
    if doc_type == "order_confirmation":
        targets = [("confirms", d) for d in _first_in_order(session, document, [ORDER_TYPES])]
    elif doc_type == "delivery_note":
        intake = _first_in_order(session, document, [ORDER_TYPES, ("order_confirmation",)])
        targets = [("fulfils", d) for d in intake]
    elif doc_type == "invoice":
        chosen = _cited_documents(session, document, "delivery", wanted) or _first_in_order(
            session, document, [("delivery_note",), ORDER_TYPES, ("order_confirmation",)])
        targets = [("invoices", d) for d in chosen]
    elif doc_type in ("payment_advice", "credit_note"):
        relation = "settles" if doc_type == "payment_advice" else "relates-to"
        targets = [(relation, d) for d in _cited_documents(session, document, "invoice", wanted)]
    for relation, target in targets:
        _relation(session, clock, document, target, relation)
    return session.scalar(select(Relation.id).where(Relation.source_id == document.id,
                                                    Relation.type == "settles").limit(1)) is not None


def _relation(session: Session, clock: Clock, source: Document, target: Document, relation: str) -> None:
    exists = session.scalar(select(Relation.id).where(Relation.source_id == source.id,
                                                      Relation.target_id == target.id, Relation.type == relation))
    if exists is None and source.id != target.id:
        session.add(Relation(source_id=source.id, target_id=target.id, type=relation, created_at=clock(),
                             created_by=LINKER.name))
        session.flush()
        append(session, clock, LINKER, "relation.created", f"document:{source.id}",
               {"type": relation, "source": source.id, "target": target.id, "basis": "linking"})


def _first_in_order(session: Session, document: Document, preference: list[tuple[str, ...]]) -> list[Document]:
    """The documents of the first group of types in `preference` that the order has (one query for all groups)."""
    if document.order_id is None:
        return []
    candidates = list(session.scalars(select(Document).where(
        Document.order_id == document.order_id, Document.doc_type.in_([t for group in preference for t in group]),
        Document.id != document.id, Document.status != "disposed").order_by(Document.filed_at, Document.id)))
    for doc_types in preference:
        found = [d for d in candidates if d.doc_type in doc_types]
        if found:
            return found
    return []


def _cited(session: Session, document_id: str, kind: str) -> list[str]:
    return list(session.scalars(select(DocumentReference.value).where(
        DocumentReference.document_id == document_id, DocumentReference.kind == kind)
        .order_by(DocumentReference.value)))


def _cited_documents(session: Session, document: Document, kind: str,
                     wanted: dict[tuple[str, str], str] | None = None) -> list[Document]:
    """Documents of `kind` (invoice, delivery) carrying a number this document cites; the same customer's first."""
    doc_types = {"invoice": ("invoice",), "delivery": ("delivery_note",)}[kind]
    found: dict[str, Document] = {}
    for number in _cited(session, document.id, kind):
        matches = list(session.scalars(select(Document).join(
            DocumentReference, DocumentReference.document_id == Document.id).where(
            DocumentReference.kind == "number", DocumentReference.value == number,
            Document.doc_type.in_(doc_types), Document.id != document.id, Document.status != "disposed")
            .order_by(Document.filed_at, Document.id)))
        own = [d for d in matches if d.customer_id == document.customer_id]
        chosen = own or (matches if len(matches) == 1 else [])
        if not chosen and wanted is not None:
            wanted[(UNRESOLVED[kind], number)] = REASONS[UNRESOLVED[kind]]
        found.update((d.id, d) for d in chosen)
    return list(found.values())


def _quality(document: Document, suggested: Suggested, wanted: dict[tuple[str, str], str]) -> None:
    if suggested.confirmed_at is not None or suggested.source not in ("text", "ocr"):
        return
    if suggested.confidence is not None and suggested.confidence < LOW_CONFIDENCE:
        wanted[("low_confidence", "")] = REASONS["low_confidence"]
    if suggested.doc_type and suggested.doc_type != document.doc_type and \
            (suggested.confidence or 0) >= DOC_TYPE_TRUSTED:
        wanted[("doc_type_disagrees", suggested.doc_type)] = REASONS["doc_type_disagrees"]


# Documents of an order whose relations may point at a newcomer of this type (see _relate's fallbacks).
RELATE_TO_NEWCOMER = {
    **{t: ("order_confirmation", "delivery_note", "invoice") for t in ORDER_TYPES},
    "order_confirmation": ("delivery_note", "invoice"),
    "delivery_note": ("invoice",),
}


def _affected(session: Session, document: Document, numbers: set[str]) -> set[str]:
    """Documents whose links this document may change: those of its order that relate by type to it, those citing
    its numbers, and those without an order that cite its order. Not the whole order: a dossier of n documents
    would otherwise relink n documents for each one filed."""
    ids: set[str] = set()
    if document.order_id is not None:
        related_types = RELATE_TO_NEWCOMER.get(document.doc_type)
        if related_types:
            ids |= set(session.scalars(select(Document.id).where(Document.order_id == document.order_id,
                                                                 Document.doc_type.in_(related_types))))
        ids |= set(session.scalars(select(DocumentReference.document_id).join(
            Document, Document.id == DocumentReference.document_id).where(
            DocumentReference.kind == "order", DocumentReference.value == document.order.number,
            Document.order_id.is_(None))))
    if numbers:
        ids |= set(session.scalars(select(DocumentReference.document_id).where(
            DocumentReference.kind.in_(("invoice", "delivery")), DocumentReference.value.in_(sorted(numbers)))))
    return ids
