"""The review queue and the confirm endpoint: listing, paging, corrections audited, bad input refused with codes."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from archive.models import AuditEvent
from tests.fixtures.samples import metadata, pdf_bytes, upload
from tests.integration.understanding_support import store_text_extraction

INVOICE = ("FACTURE N° F-7\nDate : 06/03/2026\nVotre commande n° PO-404\nTotal TTC 120,00 EUR\n"
           "IBAN : DE89 3704 0044 0532 0130 00\n")


def filed(client, auth, runtime, text=INVOICE, doc_type="invoice", order=None, label="x") -> str:
    meta = metadata(doc_type=doc_type, order={"number": order} if order else None)
    response = upload(client, auth, pdf_bytes(f"{label} {text[:20]}"), meta)
    assert response.status_code == 201
    store_text_extraction(runtime, response.json["id"], text)
    return response.json["id"]


def confirm(client, auth, document_id, body):
    return client.post(f"/api/v1/documents/{document_id}/confirm", json=body, headers=auth)


def test_the_queue_lists_documents_with_their_reasons_page_by_page(client, auth, runtime):
    first = filed(client, auth, runtime, label="a")
    second = filed(client, auth, runtime, "LIEFERSCHEIN Nr. LS-1\n", "delivery_note", label="b")
    page = client.get("/api/v1/review?limit=1", headers=auth).json
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = client.get(f"/api/v1/review?limit=1&cursor={page['next_cursor']}", headers=auth).json
    assert rest["next_cursor"] is None
    entries = {e["document"]["id"]: e for e in page["items"] + rest["items"]}
    assert set(entries) == {first, second}
    assert [(r["code"], r["detail"]) for r in entries[first]["reasons"]] == [("order_reference_unresolved", "PO-404")]
    assert {r["code"] for r in entries[second]["reasons"]} == {"delivery_note_without_order", "low_confidence"}
    assert entries[second]["document"]["customer"] == {"number": "C-1042", "name": "ACME SARL"}


def test_confirming_corrects_fields_audits_old_and_new_and_resolves_the_reasons(client, auth, runtime):
    document_id = filed(client, auth, runtime)
    upload(client, auth, pdf_bytes("the order"), metadata(doc_type="purchase_order", order={"number": "PO-405"}))
    response = confirm(client, auth, document_id, {"fields": {"order_references": ["PO-405"],
                                                              "grand_total": "121.5", "due_date": "2026-04-06"}})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["changes"] == {"order_references": {"old": ["PO-404"], "new": ["PO-405"]},
                               "grand_total": {"old": "120.00", "new": "121.50"},
                               "due_date": {"old": None, "new": "2026-04-06"}}
    assert body["resolved"] == ["order_reference_unresolved"] and body["open_reasons"] == []
    assert body["fields"]["number"] == "F-7" and body["fields"]["payment"]["iban"] == "DE89370400440532013000"
    with runtime.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "extraction.confirmed")).one()
        assert event.subject == f"document:{document_id}" and event.details["changes"] == body["changes"]
        assert "number" in event.details["accepted"]
    shown = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert shown["order"] == {"number": "PO-405"}  # linked again with the confirmed reference
    card = [d for s in client.get("/api/v1/customers/C-1042/orders/PO-405", headers=auth).json["stages"]
            for d in s["documents"] if d["id"] == document_id][0]
    assert card["extracted"]["fields"]["grand_total"] == {"value": "121.50", "confidence": 1.0, "confirmed": True}
    assert client.get("/api/v1/review", headers=auth).json["items"] == []


def test_an_empty_confirmation_accepts_everything_and_the_reason_does_not_come_back(client, auth, runtime):
    document_id = filed(client, auth, runtime)
    response = client.post(f"/api/v1/documents/{document_id}/confirm", headers=auth)
    assert response.status_code == 200 and response.json["changes"] == {}
    assert response.json["resolved"] == ["order_reference_unresolved"]
    store_text_extraction(runtime, document_id, INVOICE)  # reprocessing does not reopen what a person dismissed
    assert client.get("/api/v1/review", headers=auth).json["items"] == []


@pytest.mark.parametrize("body,code,field", [
    ({"fields": {"colour": "red"}}, "unknown_field", "fields.colour"),
    ({"extra": 1}, "unknown_field", "extra"),
    ({"fields": []}, "invalid_field", "fields"),
    ({"fields": {"issue_date": "12.03.2026"}}, "invalid_field", "fields.issue_date"),
    ({"fields": {"grand_total": "1.234,56"}}, "invalid_field", "fields.grand_total"),
    ({"fields": {"currency": "euro"}}, "invalid_field", "fields.currency"),
    ({"fields": {"order_references": "PO-1"}}, "invalid_field", "fields.order_references"),
    ({"fields": {"payment": {"iban": "DE89 3704 0044 0532 0130 01"}}}, "invalid_iban", "fields.payment.iban"),
    ({"fields": {"buyer": {"vat_id": "DE136695977"}}}, "invalid_vat_id", "fields.buyer.vat_id"),
    ({"fields": {"buyer": {"street": "x"}}}, "unknown_field", "fields.buyer.street"),
    ({"doc_type": "letter_bomb"}, "unknown_document_type", "doc_type"),
])
def test_bad_confirmations_are_refused_with_a_code(client, auth, runtime, body, code, field):
    document_id = filed(client, auth, runtime)
    response = confirm(client, auth, document_id, body)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert (response.json["code"], response.json["field"]) == (code, field)
    with runtime.transaction() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "extraction.confirmed")).all() == []


def test_confirm_needs_a_json_object_a_known_document_and_the_file_scope(client, auth, runtime, make_token):
    document_id = filed(client, auth, runtime)
    response = client.post(f"/api/v1/documents/{document_id}/confirm", data="[1]", headers=auth,
                           content_type="application/json")
    assert (response.status_code, response.json["code"]) == (400, "invalid_json")
    assert confirm(client, auth, "no-such-document", {}).json["code"] == "document_not_found"
    reader = {"Authorization": f"Bearer {make_token('read')}"}
    assert confirm(client, reader, document_id, {}).status_code == 403
    assert client.get("/api/v1/review", headers=reader).status_code == 200
    assert client.get("/api/v1/review?limit=0", headers=auth).json["code"] == "invalid_parameter"


def test_a_new_version_makes_confirmed_values_suggestions_again(client, auth, runtime):
    document_id = filed(client, auth, runtime)
    assert confirm(client, auth, document_id, {"fields": {"grand_total": "99.00"}}).status_code == 200
    response = client.post(f"/api/v1/documents/{document_id}/versions", headers=auth,
                           data={"file": (io.BytesIO(pdf_bytes("corrected invoice")), "v2.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 201
    store_text_extraction(runtime, document_id, INVOICE)
    with runtime.transaction() as session:
        from archive.documents import load
        from archive.suggestions import suggested_for
        suggested = suggested_for(session, [load(session, document_id)])[document_id]
    assert suggested.get("grand_total") == "120.00" and suggested.confirmed == set()
