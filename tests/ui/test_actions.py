"""What the pages do: filing, versions, corrections, holds, disposition, saved searches, administration.

Each action goes through the same service as the API, so these check the wiring, the roles and the audit trail.
"""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from archive.models import AuditEvent, Document
from tests.fixtures.samples import pdf_bytes


def events(runtime, action):
    with runtime.transaction() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def upload(client, files, **fields):
    data = {"csrf_token": client.csrf, "doc_type": "invoice", "customer": "C-7", "order": "PO-7", **fields,
            "file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/upload", data=data, content_type="multipart/form-data")


def test_staff_file_several_documents_and_get_a_receipt_each(login, runtime):
    client = login("staff")
    response = upload(client, [("a.pdf", pdf_bytes("one")), ("b.pdf", pdf_bytes("two")),
                               ("evil.html", b"<html><script>alert(1)</script></html>")])
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count('class="receipt good"') == 2
    assert html.count('class="receipt bad"') == 1 and "text/html are not accepted" in html
    filed = events(runtime, "document.filed")
    assert len(filed) == 2 and {e.actor for e in filed} == {"user:staff-user"}
    assert {e.details.get("source_channel") for e in filed} == {"ui"}


def test_the_upload_script_gets_json_receipts(login):
    client = login("staff")
    response = client.post("/upload", headers={"Accept": "application/json"}, content_type="multipart/form-data",
                           data={"csrf_token": client.csrf, "doc_type": "invoice", "customer": "C-7",
                                 "file": (io.BytesIO(pdf_bytes("json")), "j.pdf")})
    assert response.status_code == 201
    receipt = response.json["receipts"][0]
    assert receipt["filename"] == "j.pdf" and receipt["checksum"].startswith("sha256:")
    bad = client.post("/upload", headers={"Accept": "application/json"}, content_type="multipart/form-data",
                      data={"csrf_token": client.csrf, "customer": "C-7",
                            "file": (io.BytesIO(pdf_bytes("x")), "x.pdf")})
    assert bad.status_code == 400 and bad.json["code"] == "missing_field"


def test_new_versions_and_corrections_from_the_document_page(login, filed, runtime):
    client = login("records_manager")
    document_id = filed["invoice"]["id"]
    response = client.post(f"/documents/{document_id}/versions", content_type="multipart/form-data",
                           data={"csrf_token": client.csrf, "reason": "rescanned",
                                 "file": (io.BytesIO(pdf_bytes("v2")), "v2.pdf")})
    assert response.status_code == 302
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Version 2 filed" in page and "rescanned" in page
    assert client.get(f"/documents/{document_id}").get_data(as_text=True).count("Version 2 filed") == 0
    response = client.post(f"/documents/{document_id}/metadata",
                           data={"csrf_token": client.csrf, "doc_type": "invoice", "title": "Corrected",
                                 "document_date": "2026-01-31", "external_reference": "INV-1", "order": "PO-4711"})
    assert response.status_code == 302
    assert events(runtime, "document.updated")[-1].details["changes"]["title"]["new"] == "Corrected"
    bad = client.post(f"/documents/{document_id}/metadata", data={"csrf_token": client.csrf, "doc_type": "invoice",
                                                                  "document_date": "31/01/2026"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)


def test_holds_are_placed_and_released_by_records_managers_only(login, filed, runtime):
    staff, admin, manager = login("staff"), login("admin"), login("records_manager")
    form = {"scope": "order", "customer": "C-1042", "order": "PO-4711", "reason": "dispute",
            "case_reference": "CASE-1"}
    assert staff.post("/retention/holds", data={**form, "csrf_token": staff.csrf}).status_code == 403
    response = admin.post("/retention/holds", data={**form, "csrf_token": admin.csrf,
                                                    "back": "/customers/C-1042/orders/PO-4711"})
    assert response.status_code == 302 and response.headers["Location"] == "/customers/C-1042/orders/PO-4711"
    dossier = admin.get("/customers/C-1042/orders/PO-4711").get_data(as_text=True)
    assert "Legal hold placed on 2 documents." in dossier and dossier.count('class="badge hold"') == 2
    hold_id = re.search(r'action="/retention/holds/([^/]+)/release"', manager.get("/retention").get_data(as_text=True))
    assert hold_id and 'action="/retention/holds/' not in admin.get("/retention").get_data(as_text=True)
    release = f"/retention/holds/{hold_id.group(1)}/release"
    assert admin.post(release, data={"reason": "x", "csrf_token": admin.csrf}).status_code == 403
    assert manager.post(release, data={"reason": "", "csrf_token": manager.csrf}).status_code == 400
    assert manager.post(release, data={"reason": "settled", "csrf_token": manager.csrf}).status_code == 302
    assert [e.action for e in events(runtime, "hold.placed") + events(runtime, "hold.released")] == \
        ["hold.placed", "hold.released"]


def test_a_proposal_with_nothing_due_is_a_clear_conflict(login):
    manager = login("records_manager")
    response = manager.post("/retention/batches", data={"reason": "yearly", "csrf_token": manager.csrf})
    assert response.status_code == 409 and "nothing is due" in response.get_data(as_text=True)


def test_saved_searches_belong_to_their_owner(login, filed):
    staff, other = login("staff"), login("records_manager")
    assert staff.post("/search/saved", data={"name": "invoices", "q": "type:invoice", "csrf_token": staff.csrf}
                      ).status_code == 302
    page = staff.get("/search").get_data(as_text=True)
    saved_id = re.search(r'action="/search/saved/([^/]+)/delete"', page).group(1)
    assert "invoices" not in other.get("/search").get_data(as_text=True)
    assert other.post(f"/search/saved/{saved_id}/delete", data={"csrf_token": other.csrf}).status_code == 404
    assert staff.post(f"/search/saved/{saved_id}/delete", data={"csrf_token": staff.csrf}).status_code == 302
    bad = staff.post("/search/saved", data={"name": "broken", "q": "(unclosed", "csrf_token": staff.csrf})
    assert bad.status_code == 400


def test_search_page_shows_highlights_facets_and_exports_csv(login, filed, runtime):
    from archive.models import Extraction
    from search.indexing import index_document
    with runtime.transaction() as session:  # the text that processing (issue #4) would have read
        session.add(Extraction(document_id=filed["invoice"]["id"], version=1, source="text", doc_type="invoice",
                               text="Facture 4711 <script>alert(1)</script>", fields={}, confidence=None,
                               created_at=runtime.clock()))
    index_document(runtime, filed["invoice"]["id"])
    client = login("auditor")
    page = client.get("/search?q=facture").get_data(as_text=True)
    assert "<mark>Facture</mark>" in page and "&lt;script&gt;" in page and "<script>alert" not in page
    assert 'href="/search?q=facture+type:invoice' in page.replace("%3A", ":")
    csv = client.get("/search/export.csv?q=facture")
    assert csv.mimetype == "text/csv" and filed["invoice"]["id"] in csv.get_data(as_text=True)
    assert events(runtime, "search.exported")[-1].actor == "user:auditor-user"
    assert client.get("/search?q=%28unclosed").status_code == 400


ADMIN_POSTS = ["/admin/users", "/admin/tokens", "/admin/keys/rotate"]


@pytest.mark.parametrize("role", ["staff", "records_manager", "auditor"])
def test_only_admins_administer(login, role):
    client = login(role)
    for url in ADMIN_POSTS:
        assert client.post(url, data={"csrf_token": client.csrf, "username": "x", "name": "x"}).status_code == 403


def test_admins_create_users_and_tokens_shown_once_and_revoke_them(login, runtime):
    client = login("admin")
    created = client.post("/admin/users", data={"csrf_token": client.csrf, "username": "newbie", "role": "staff"})
    assert created.status_code == 201
    password = re.search(r'<code id="secret">([^<]+)</code>', created.get_data(as_text=True)).group(1)
    assert "newbie" in client.get("/admin").get_data(as_text=True)
    assert password not in client.get("/admin").get_data(as_text=True)
    token = client.post("/admin/tokens", data={"csrf_token": client.csrf, "name": "erp", "scopes": ["file", "read"],
                                               "user": "newbie"})
    text = re.search(r'<code id="secret">([^<]+)</code>', token.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {text}"}).status_code == 200
    token_id = re.search(r'action="/admin/tokens/([^/]+)/revoke"', client.get("/admin").get_data(as_text=True))
    assert client.post(f"/admin/tokens/{token_id.group(1)}/revoke", data={"csrf_token": client.csrf}).status_code == 302
    assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {text}"}).status_code == 401
    too_much = client.post("/admin/tokens", data={"csrf_token": client.csrf, "name": "x", "scopes": ["admin"],
                                                  "user": "newbie"})
    assert too_much.status_code == 403
    assert client.post("/admin/keys/rotate", data={"csrf_token": client.csrf}).status_code == 302
    assert [e.action for e in events(runtime, "token.revoked")] == ["token.revoked"]
    assert events(runtime, "signing_key.generated") or events(runtime, "signing_key.rotated")


STATE_CHANGES = ["/search/saved", "/upload", "/retention/holds", "/retention/batches", "/admin/users",
                 "/documents/{id}/versions", "/documents/{id}/metadata", "/retention/holds/x/release",
                 "/retention/batches/x/approve", "/retention/batches/x/execute", "/search/saved/x/delete"]


def test_auditors_are_refused_every_state_change(login, filed, runtime):
    client = login("auditor")
    before = len(events(runtime, "document.filed"))
    for url in STATE_CHANGES:
        response = client.post(url.format(id=filed["invoice"]["id"]), data={"csrf_token": client.csrf})
        assert response.status_code == 403 and "read-only" in response.get_data(as_text=True), url
    assert len(events(runtime, "document.filed")) == before


def test_the_dossier_reconciles_from_extracted_amounts(login, filed, runtime):
    from archive.models import Extraction
    with runtime.transaction() as session:
        for key, total in (("invoice", "120.00"),):
            session.merge(Extraction(document_id=filed[key]["id"], version=1, source="cii", doc_type="invoice",
                                     text="", fields={"grand_total": total, "currency": "EUR", "number": "F-1"},
                                     confidence=1.0, created_at=runtime.clock()))
    page = login("staff").get("/customers/C-1042/orders/PO-4711").get_data(as_text=True)
    assert "120.00 EUR" in page and "F-1" not in page.split("Reconciliation")[0]
    assert "No document for the stage" in page
    with runtime.transaction() as session:
        assert session.get(Document, filed["invoice"]["id"]).external_reference == "INV-4711"


def test_review_queue_and_confirming_extracted_fields(login, filed, runtime):
    from archive.models import Extraction
    from archive.models_understanding import ReviewItem
    invoice = filed["invoice"]["id"]
    with runtime.transaction() as session:
        session.add(Extraction(document_id=invoice, version=1, source="text", doc_type="invoice", text="Facture",
                               fields={"number": "F-77", "grand_total": "120.00", "currency": "EUR",
                                       "order_references": ["PO-4711"]}, confidence=0.55,
                               created_at=runtime.clock()))
        session.add(ReviewItem(document_id=invoice, reason="low_confidence", detail="",
                               message="its fields were read with low confidence", created_at=runtime.clock()))
    staff, auditor = login("staff"), login("auditor")
    queue = auditor.get("/review").get_data(as_text=True)
    assert "its fields were read with low confidence" in queue and f"/documents/{invoice}" in queue
    assert "1</strong> to review" in auditor.get("/").get_data(as_text=True)
    page = staff.get(f"/documents/{invoice}").get_data(as_text=True)
    assert "F-77" in page and "55 %" in page and f'action="/documents/{invoice}/confirm"' in page
    assert f'action="/documents/{invoice}/confirm"' not in auditor.get(f"/documents/{invoice}").get_data(as_text=True)
    form = {"csrf_token": staff.csrf, "doc_type": "invoice", "number": "F-77", "grand_total": "121.50",
            "currency": "EUR", "order_references": "PO-4711"}
    assert staff.post(f"/documents/{invoice}/confirm", data=form).status_code == 302
    confirmed = events(runtime, "extraction.confirmed")[-1]
    assert confirmed.actor == "user:staff-user"
    assert confirmed.details["changes"] == {"grand_total": {"old": "120.00", "new": "121.50"}}
    assert "Nothing to review." in auditor.get("/review").get_data(as_text=True)
    page = staff.get(f"/documents/{invoice}").get_data(as_text=True)
    assert "121.50" in page and "confirmed" in page
    bad = staff.post(f"/documents/{invoice}/confirm", data={**form, "due_date": "31/12/2026"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)


def test_seller_buyer_and_payment_are_corrected_from_the_form(login, filed, runtime):
    from archive.models import Extraction
    invoice = filed["invoice"]["id"]
    with runtime.transaction() as session:
        session.add(Extraction(document_id=invoice, version=1, source="text", doc_type="invoice", text="Facture",
                               fields={"number": "F-78", "seller": {"name": "ACME SA", "vat_id": "DE136695976"},
                                       "buyer": {"name": "Durand"}, "payment": {"reference": "RF-1"}},
                               confidence=0.5, created_at=runtime.clock()))
    staff = login("staff")
    page = staff.get(f"/documents/{invoice}").get_data(as_text=True)
    for group, key, value in (("seller", "name", "ACME SA"), ("seller", "vat_id", "DE136695976"),
                              ("seller", "id", ""), ("buyer", "name", "Durand"), ("buyer", "vat_id", ""),
                              ("payment", "iban", ""), ("payment", "reference", "RF-1")):
        assert f'<input name="{group}.{key}" value="{value}">' in page, (group, key)
    form = {"csrf_token": staff.csrf, "doc_type": "invoice", "number": "F-78",
            "seller.name": "ACME SA", "seller.vat_id": "DE136695976", "seller.id": "",
            "buyer.name": "Durand & Fils", "buyer.vat_id": "", "buyer.id": "C-1042",
            "payment.iban": "de89 3704 0044 0532 0130 00", "payment.reference": ""}
    for field, bad, code in (("seller.vat_id", "DE136695977", "invalid_vat_id"),
                             ("payment.iban", "DE89 3704 0044 0532 0130 01", "invalid_iban")):
        refused = staff.post(f"/documents/{invoice}/confirm", data={**form, field: bad})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and f'data-code="{code}"' in html and f"fields.{field}" in html, field
    assert not events(runtime, "extraction.confirmed")
    assert staff.post(f"/documents/{invoice}/confirm", data=form).status_code == 302
    changes = events(runtime, "extraction.confirmed")[-1].details["changes"]
    assert changes == {
        "buyer": {"old": {"name": "Durand"}, "new": {"name": "Durand & Fils", "id": "C-1042"}},
        "payment": {"old": {"reference": "RF-1"}, "new": {"reference": None, "iban": "DE89370400440532013000"}}}
    page = staff.get(f"/documents/{invoice}").get_data(as_text=True)
    assert '<input name="payment.iban" value="DE89370400440532013000">' in page
    assert '<input name="buyer.name" value="Durand &amp; Fils">' in page
    assert '<input name="seller.vat_id" value="DE136695976">' in page
