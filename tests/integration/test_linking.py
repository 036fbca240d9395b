"""Dossier linking and missing-information flags on a real database (SQLite, and PostgreSQL with
ARCHIVE_TEST_DB=postgres): documents filed through the API, their text understood, then linked."""
from __future__ import annotations

import itertools

from sqlalchemy import func, select

from archive.linking import link_document
from archive.models import AuditEvent, Document, Relation
from archive.models_understanding import ReviewItem
from tests.fixtures.samples import metadata, pdf_bytes, upload
from tests.integration.understanding_support import store_text_extraction

_unique = itertools.count()

PO = "BON DE COMMANDE N° PO-4711\nDate : 01/03/2026\nTotal TTC 1 200,00 EUR\n"
CONFIRMATION = "CONFIRMATION DE COMMANDE N° AB-1\nDate : 02/03/2026\nVotre commande n° PO-4711\nTotal TTC 1 200,00 EUR\n"
DELIVERY = "LIEFERSCHEIN Nr. BL-1\nDatum: 05.03.2026\nIhre Bestellung Nr. PO-4711\n"
INVOICE = ("FACTURE N° F-1\nDate : 06/03/2026\nÉchéance : 06/03/2099\nVotre commande n° PO-4711\n"
           "Bon de livraison n° BL-1\nTotal HT 1 000,00 EUR\nTVA 20 % 200,00 EUR\nTotal TTC 1 200,00 EUR\n")
PAYMENT = "AVIS DE PAIEMENT\nDate : 20/03/2026\nFacture n° F-1\nMontant réglé 1 000,00 EUR\n"


def file(client, auth, runtime, text: str, doc_type: str, order: str | None = "PO-4711", customer="C-1042",
         link: bool = True) -> str:
    meta = metadata(doc_type=doc_type, customer={"number": customer, "name": None},
                    order={"number": order} if order else None)
    response = upload(client, auth, pdf_bytes(f"{doc_type} {next(_unique)}"), meta)
    assert response.status_code == 201, response.json
    document_id = response.json["id"]
    store_text_extraction(runtime, document_id, text, link=link)
    return document_id


def relations(runtime) -> set[tuple[str, str, str]]:
    with runtime.transaction() as session:
        return {(r.type, r.source_id, r.target_id) for r in session.scalars(select(Relation))}


def open_reasons(runtime, document_id: str) -> set[tuple[str, str]]:
    with runtime.transaction() as session:
        return {(i.reason, i.detail) for i in session.scalars(select(ReviewItem).where(
            ReviewItem.document_id == document_id, ReviewItem.resolved_at.is_(None)))}


def order_of(runtime, document_id: str) -> str | None:
    with runtime.transaction() as session:
        document = session.get(Document, document_id)
        return document.order.number if document.order else None


def count(runtime, action: str) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def dossier(client, auth, order="PO-4711", customer="C-1042"):
    response = client.get(f"/api/v1/customers/{customer}/orders/{order}", headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def test_a_whole_order_links_itself_from_the_references_in_its_documents(client, auth, runtime):
    po = file(client, auth, runtime, PO, "purchase_order")
    confirmation = file(client, auth, runtime, CONFIRMATION, "order_confirmation", order=None)
    delivery = file(client, auth, runtime, DELIVERY, "delivery_note", order=None)
    invoice = file(client, auth, runtime, INVOICE, "invoice", order=None)
    payment = file(client, auth, runtime, PAYMENT, "payment_advice", order=None)
    assert {order_of(runtime, d) for d in (confirmation, delivery, invoice, payment)} == {"PO-4711"}
    assert relations(runtime) == {("confirms", confirmation, po), ("fulfils", delivery, po),
                                  ("invoices", invoice, delivery), ("settles", payment, invoice)}
    assert all(open_reasons(runtime, d) == set() for d in (po, confirmation, delivery, invoice, payment))
    with runtime.transaction() as session:
        basis = {e.details["basis"] for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "document.linked"))}
    assert basis == {"order_reference", "invoice_reference"}  # the payment advice came through its invoice

    view = dossier(client, auth)
    flags = view["flags"]
    assert flags["stages_present"] == ["intake", "confirmation", "fulfilment", "invoicing"]
    assert flags["stages_missing"] == ["shipping", "closing"]
    assert flags["amounts"] == {"currency": "EUR", "order_total": "1200.00", "invoiced_total": "1200.00",
                                "amount_due": "1200.00", "payments_received": "1000.00",
                                "payment_status": "partial"}
    assert flags["flags"] == ["payment_partial"]
    cards = {d["id"]: d for stage in view["stages"] for d in stage["documents"]}
    spot = cards[invoice]["extracted"]["fields"]["grand_total"]
    assert (spot["value"], spot["confirmed"]) == ("1200.00", False)
    assert spot["confidence"] == 0.95  # net + tax = grand
    assert cards[invoice]["flags"] == [] and cards[payment]["flags"] == []


def test_linking_twice_changes_nothing(client, auth, runtime):
    po = file(client, auth, runtime, PO, "purchase_order")
    delivery = file(client, auth, runtime, DELIVERY, "delivery_note", order=None)
    before = (relations(runtime), count(runtime, "relation.created"), count(runtime, "document.linked"))
    with runtime.transaction() as session:
        link_document(session, runtime.clock, delivery)
        link_document(session, runtime.clock, po)
    assert (relations(runtime), count(runtime, "relation.created"), count(runtime, "document.linked")) == before
    assert before[1] == 1


def test_documents_filed_in_any_order_find_each_other(client, auth, runtime):
    """The payment advice comes first; its invoice, then the order, arrive later and resolve its review reasons."""
    payment = file(client, auth, runtime, PAYMENT, "payment_advice", order=None)
    assert open_reasons(runtime, payment) == {("invoice_reference_unresolved", "F-1"), ("payment_advice_unmatched", "")}
    invoice = file(client, auth, runtime, INVOICE, "invoice", order=None)
    assert ("order_reference_unresolved", "PO-4711") in open_reasons(runtime, invoice)
    assert open_reasons(runtime, payment) == set()
    assert ("settles", payment, invoice) in relations(runtime)
    po = file(client, auth, runtime, PO, "purchase_order")
    assert order_of(runtime, invoice) == "PO-4711" and open_reasons(runtime, invoice) == {
        ("delivery_reference_unresolved", "BL-1")}
    assert ("invoices", invoice, po) in relations(runtime)
    assert order_of(runtime, payment) is None  # it settles the invoice; its own order came before the invoice had one
    with runtime.transaction() as session:
        link_document(session, runtime.clock, payment)
    assert order_of(runtime, payment) == "PO-4711"


def test_missing_information_is_flagged_and_queued(client, auth, runtime):
    invoice = file(client, auth, runtime, "FACTURE N° F-9\nDate : 06/03/2026\nTotal TTC 50,00 EUR\n", "invoice",
                   order=None)
    delivery = file(client, auth, runtime, "LIEFERSCHEIN Nr. LS-9\nDatum: 05.03.2026\n", "delivery_note", order=None)
    payment = file(client, auth, runtime, "AVIS DE PAIEMENT\nMontant réglé 50,00 EUR\n", "payment_advice", order=None)
    assert open_reasons(runtime, invoice) == {("invoice_without_order_reference", "")}
    assert open_reasons(runtime, delivery) == {("delivery_note_without_order", "")}
    assert ("payment_advice_unmatched", "") in open_reasons(runtime, payment)


def test_amounts_that_disagree_are_flagged(client, auth, runtime):
    file(client, auth, runtime, PO, "purchase_order")
    file(client, auth, runtime, INVOICE.replace("1 200,00", "1 300,00").replace("200,00 EUR", "300,00 EUR"),
         "invoice", order=None)
    file(client, auth, runtime, PAYMENT.replace("1 000,00", "1 500,00"), "payment_advice", order=None)
    flags = dossier(client, auth)["flags"]
    assert flags["amounts"]["order_total"] == "1200.00" and flags["amounts"]["invoiced_total"] == "1300.00"
    assert flags["amounts"]["payment_status"] == "overpaid"
    assert flags["flags"] == ["invoice_without_delivery_note", "order_total_mismatch", "payment_overpaid"]


def test_an_overdue_short_payment_is_an_underpayment(client, auth, runtime):
    file(client, auth, runtime, INVOICE.replace("06/03/2099", "06/04/2020"), "invoice")
    file(client, auth, runtime, PAYMENT, "payment_advice")
    flags = dossier(client, auth)["flags"]
    assert flags["amounts"]["payment_status"] == "underpaid" and "payment_underpaid" in flags["flags"]


def test_the_filer_wins_and_disagreements_go_to_review(client, auth, runtime):
    file(client, auth, runtime, PO, "purchase_order", customer="C-2002")  # PO-4711 of another customer
    file(client, auth, runtime, "BESTELLUNG Nr. B-1\n", "purchase_order", order="B-1", customer="C-3003")
    text = DELIVERY + "Kundennummer: C-3003\n"
    filed_under_a = file(client, auth, runtime, text, "delivery_note", order="A-1")
    assert order_of(runtime, filed_under_a) == "A-1"
    elsewhere = file(client, auth, runtime, text, "delivery_note", order=None)
    assert order_of(runtime, elsewhere) is None
    assert open_reasons(runtime, elsewhere) == {("order_customer_mismatch", "PO-4711"),
                                                ("customer_mismatch", "C-3003"), ("delivery_note_without_order", "")}
    invoice_as_note = file(client, auth, runtime, INVOICE, "delivery_note", order="A-1")
    assert ("doc_type_disagrees", "invoice") in open_reasons(runtime, invoice_as_note)


def test_filing_relinks_only_the_documents_it_can_affect(client, auth, runtime, monkeypatch):
    import archive.linking
    file(client, auth, runtime, PO, "purchase_order")
    invoice = file(client, auth, runtime, INVOICE, "invoice")
    payment = file(client, auth, runtime, PAYMENT, "payment_advice")
    linked: list[str] = []
    real_link = archive.linking._link

    def recording(session, clock, document, schedule):
        linked.append(document.id)
        return real_link(session, clock, document, schedule)
    monkeypatch.setattr(archive.linking, "_link", recording)
    letter = file(client, auth, runtime, "Bonjour, merci pour votre commande.", "correspondence")
    assert linked == [letter]  # nothing in the order can point at a letter

    linked.clear()
    delivery = file(client, auth, runtime, DELIVERY, "delivery_note")
    assert sorted(linked) == sorted([delivery, invoice])  # the invoice cites BL-1; the payment cannot change
    assert ("invoices", invoice, delivery) in relations(runtime)
    assert payment not in linked
