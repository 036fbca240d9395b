"""Versions, corrections, duplicates, idempotency, dossiers and the reads that are audited."""
import hashlib

from sqlalchemy import select

from archive.models import AuditEvent
from tests.fixtures.samples import PNG_1PX, docx_bytes, metadata, pdf_bytes, upload


def events(runtime, action=None):
    with runtime.transaction() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return session.scalars(query).all()


def test_same_bytes_for_the_same_order_return_the_existing_document(client, auth):
    data = pdf_bytes("dup")
    first = upload(client, auth, data, metadata()).json
    again = upload(client, auth, data, metadata())
    assert again.status_code == 200
    assert again.json["id"] == first["id"] and again.json["duplicate"] is True
    forced = upload(client, auth, data, metadata(allow_duplicate=True))
    assert forced.status_code == 201 and forced.json["id"] != first["id"]
    other_order = upload(client, auth, data, metadata(order={"number": "PO-OTHER"}))
    assert other_order.status_code == 201 and other_order.json["id"] != first["id"]


def test_idempotency_key_replays_the_receipt_and_refuses_other_bytes(client, auth, runtime):
    key = {"Idempotency-Key": "erp-7f3a"}
    first = upload(client, auth, pdf_bytes("a"), metadata(), extra_headers=key)
    replay = upload(client, auth, pdf_bytes("a"), metadata(), extra_headers=key)
    assert replay.json == first.json
    clash = upload(client, auth, pdf_bytes("b"), metadata(), extra_headers=key)
    assert clash.status_code == 409 and clash.json["code"] == "idempotency_key_reused"
    assert len(events(runtime, "document.filed")) == 1


def test_new_version_keeps_the_earlier_ones(client, auth):
    v1, v2 = pdf_bytes("v1"), pdf_bytes("v2 corrected")
    receipt = upload(client, auth, v1, metadata()).json
    response = client.post(f"/api/v1/documents/{receipt['id']}/versions", headers=auth,
                           data={"file": (__import__("io").BytesIO(v2), "v2.pdf"), "reason": "scan was cut"},
                           content_type="multipart/form-data")
    assert response.status_code == 201 and response.json["version"] == 2
    shown = client.get(f"/api/v1/documents/{receipt['id']}", headers=auth).json
    assert [v["number"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][1]["reason"] == "scan was cut"
    assert shown["checksum"] == "sha256:" + hashlib.sha256(v2).hexdigest()
    assert client.get(f"/api/v1/documents/{receipt['id']}/content?version=1", headers=auth).data == v1
    assert client.get(f"/api/v1/documents/{receipt['id']}/content", headers=auth).data == v2


def test_patch_records_old_and_new_values(client, auth, runtime):
    receipt = upload(client, auth, pdf_bytes(), metadata(title="Old")).json
    response = client.patch(f"/api/v1/documents/{receipt['id']}", headers=auth,
                            json={"title": "New", "document_date": "2024-09-30", "order": {"number": "PO-9"}})
    assert response.status_code == 200, response.json
    assert response.json["title"] == "New" and response.json["order"] == {"number": "PO-9"}
    change = events(runtime, "document.updated")[-1].details["changes"]
    assert change["title"] == {"old": "Old", "new": "New"}
    assert change["document_date"] == {"old": None, "new": "2024-09-30"}
    assert change["order"] == {"old": "PO-4711", "new": "PO-9"}


def test_patch_refuses_an_unknown_type(client, auth):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    response = client.patch(f"/api/v1/documents/{receipt['id']}", headers=auth, json={"doc_type": "poem"})
    assert response.status_code == 400 and response.json["code"] == "unknown_document_type"


def test_allowed_types_are_detected_from_content(client, auth):
    png = upload(client, auth, PNG_1PX, metadata(), filename="scan.pdf").json
    assert png["mime_type"] == "image/png"
    docx = upload(client, auth, docx_bytes(), metadata(), filename="letter.bin").json
    assert docx["mime_type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    xml = upload(client, auth, b'<?xml version="1.0"?><Invoice/>', metadata(), filename="x.txt").json
    assert xml["mime_type"] == "application/xml"


def test_every_read_is_audited(client, auth, runtime):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    client.get(f"/api/v1/documents/{receipt['id']}", headers=auth)
    client.get(f"/api/v1/documents/{receipt['id']}/content", headers=auth)
    client.get("/api/v1/customers", headers=auth)
    client.get("/api/v1/customers/C-1042", headers=auth)
    client.get("/api/v1/customers/C-1042/orders/PO-4711", headers=auth)
    client.get("/api/v1/audit/events", headers=auth)
    actions = [e.action for e in events(runtime)]
    for action in ("document.viewed", "document.downloaded", "customer.listed", "customer.viewed",
                   "order.viewed", "audit.searched"):
        assert action in actions
    viewed = events(runtime, "document.downloaded")[0]
    assert viewed.subject == f"document:{receipt['id']}" and viewed.actor.startswith("token:")
    assert viewed.details["checksum"] == receipt["checksum"]


def test_dossier_groups_documents_by_stage_with_relations(client, auth):
    order = upload(client, auth, pdf_bytes("order"), metadata(doc_type="customer_order")).json
    confirmation = upload(client, auth, pdf_bytes("confirmation"), metadata(
        doc_type="order_confirmation", relations=[{"type": "confirms", "target": order["id"]}])).json
    invoice = upload(client, auth, pdf_bytes("invoice"), metadata(
        relations=[{"type": "invoices", "target": confirmation["id"]}])).json
    dossier = client.get("/api/v1/customers/C-1042/orders/PO-4711", headers=auth).json
    stages = {s["stage"]: s for s in dossier["stages"]}
    assert [s["stage"] for s in dossier["stages"]][:6] == ["intake", "confirmation", "fulfilment", "shipping",
                                                          "invoicing", "closing"]
    assert [d["id"] for d in stages["intake"]["documents"]] == [order["id"]]
    assert [d["id"] for d in stages["invoicing"]["documents"]] == [invoice["id"]]
    assert stages["shipping"]["present"] is False
    assert {"type": "invoices", "source": invoice["id"], "target": confirmation["id"]} in dossier["relations"]
    assert dossier["customer"] == {"number": "C-1042", "name": "ACME SARL"}


def test_customers_and_orders_are_listed(client, auth):
    upload(client, auth, pdf_bytes("1"), metadata())
    upload(client, auth, pdf_bytes("2"), metadata(customer={"number": "C-2"}, order=None))
    listed = client.get("/api/v1/customers?limit=1", headers=auth).json
    assert [c["number"] for c in listed["items"]] == ["C-1042"] and listed["next_cursor"] == "C-1042"
    rest = client.get(f"/api/v1/customers?limit=1&cursor={listed['next_cursor']}", headers=auth).json
    assert [c["number"] for c in rest["items"]] == ["C-2"] and rest["next_cursor"] is None
    detail = client.get("/api/v1/customers/C-1042", headers=auth).json
    assert detail["orders"][0]["number"] == "PO-4711" and detail["orders"][0]["documents"] == 1
    assert client.get("/api/v1/customers/C-404", headers=auth).status_code == 404
    assert client.get("/api/v1/customers/C-1042/orders/nope", headers=auth).json["code"] == "order_not_found"


def test_audit_events_filter_and_paginate(client, auth):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    subject = f"document:{receipt['id']}"
    client.get(f"/api/v1/documents/{receipt['id']}", headers=auth)
    page = client.get(f"/api/v1/audit/events?subject={subject}&limit=1", headers=auth).json
    assert [e["action"] for e in page["items"]] == ["document.filed"]
    rest = client.get(f"/api/v1/audit/events?subject={subject}&cursor={page['next_cursor']}", headers=auth).json
    assert [e["action"] for e in rest["items"]] == ["document.viewed"]
    by_action = client.get("/api/v1/audit/events?action=document.filed", headers=auth).json["items"]
    assert by_action[0]["details"]["checksum"] == receipt["checksum"]
    verify = client.get("/api/v1/audit/verify", headers=auth).json
    assert verify["ok"] is True and verify["first_bad_seq"] is None and verify["events"] > 3


def test_events_name_the_user_and_the_token_that_authenticated(client, runtime, system_actor):
    from archive.accounts import create_token, create_user
    with runtime.transaction() as session:
        create_user(session, runtime.clock, system_actor, "alice", "staff", "a-long-enough-password")
        token = create_token(session, runtime.clock, system_actor, "erp-connector", ["file", "read"], "alice")
    receipt = upload(client, {"Authorization": f"Bearer {token}"}, pdf_bytes(), metadata()).json
    filed = events(runtime, "document.filed")[-1]
    assert filed.actor == "user:alice" and filed.credential == "token:erp-connector"
    assert filed.subject == f"document:{receipt['id']}"
