"""Holds, four-eyes disposition and what is left afterwards, on a FrozenClock that travels years."""
from __future__ import annotations

import json

from sqlalchemy import select

from archive.models import AuditEvent, Blob, Extraction
from audit.signing import public_keys
from audit.verify import verify_journal
from tests.fixtures.samples import pdf_bytes
from retention.certificates import verify_certificate
from tests.integration.retention_support import archive, archive_factory  # noqa: F401 - fixtures

# fr.toml: invoices are kept 10 years after the end of the fiscal year; dated 2024-03-01 -> until 2034-12-31.
AFTER_EXPIRY = dict(days=365 * 10 + 5)  # 2025-01-10 -> 2035-01-12


def events(rt, action):
    with rt.reading() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def propose_and_approve(archive, documents=None):
    body = {"reason": "yearly disposition"} | ({"documents": documents} if documents else {})
    proposed = archive.call("post", "/disposition-batches", "alice", json=body)
    assert proposed.status_code == 201, proposed.json
    approved = archive.call("post", f"/disposition-batches/{proposed.json['id']}/approve", "bob")
    assert approved.status_code == 200, approved.json
    return approved.json


def test_deletion_before_expiry_is_refused_with_409_and_audited_even_for_admins(archive):
    filed = archive.file("inv", document_date="2024-03-01")
    for who in ("ada", "alice", "sam"):
        response = archive.call("delete", f"/documents/{filed['id']}", who)
        assert (response.status_code, response.json["code"]) == (409, "retention_active")
        assert "2034-12-31" in response.json["detail"]
    refused = events(archive.runtime, "document.deletion_refused")
    assert [(e.actor, e.outcome) for e in refused] == [("user:ada", "denied"), ("user:alice", "denied"),
                                                        ("user:sam", "denied")]
    archive.travel(**AFTER_EXPIRY)
    response = archive.call("delete", f"/documents/{filed['id']}", "ada")
    assert (response.status_code, response.json["code"]) == (409, "disposition_required")
    assert archive.call("get", f"/documents/{filed['id']}/content", "ada").status_code == 200


def test_nothing_is_due_before_expiry_and_review_classes_are_listed_apart(archive):
    archive.file("inv", document_date="2024-03-01")
    archive.file("letter", doc_type="correspondence", document_date="2024-03-01")
    assert archive.call("get", "/retention/due").json["items"] == []
    assert archive.call("post", "/disposition-batches", json={}).json["code"] == "nothing_due"
    archive.travel(**AFTER_EXPIRY)
    due = archive.call("get", "/retention/due").json["items"]
    review = archive.call("get", "/retention/due?action=review").json["items"]
    assert [d["doc_type"] for d in due] == ["invoice"] and [d["doc_type"] for d in review] == ["correspondence"]


def test_four_eyes_are_enforced(archive):
    filed = archive.file("inv", document_date="2024-03-01")
    archive.travel(**AFTER_EXPIRY)
    proposed = archive.call("post", "/disposition-batches", "alice", json={"documents": [filed["id"]]}).json
    same = archive.call("post", f"/disposition-batches/{proposed['id']}/approve", "alice")
    assert (same.status_code, same.json["code"]) == (403, "four_eyes_required")
    staff = archive.call("post", f"/disposition-batches/{proposed['id']}/approve", "sam")
    assert staff.status_code == 403
    early = archive.call("post", f"/disposition-batches/{proposed['id']}/execute", "alice")
    assert (early.status_code, early.json["code"]) == (409, "batch_not_approved")
    assert [e.outcome for e in events(archive.runtime, "disposition.approval_refused")] == ["denied"]
    assert archive.call("post", f"/disposition-batches/{proposed['id']}/approve", "bob").json["status"] == "approved"
    assert archive.call("post", f"/disposition-batches/{proposed['id']}/execute", "alice").json["status"] == \
        "executed"


def test_a_held_document_survives_its_expiry(archive):
    held = archive.file("held", document_date="2024-03-01")
    other = archive.file("other", document_date="2024-03-01", order={"number": "PO-9"})
    placed = archive.call("post", "/holds", "alice", json={
        "scope": {"customer": "C-1042", "order": "PO-4711"}, "reason": "tax audit", "case_reference": "FISC-2025-1"})
    assert placed.status_code == 201 and placed.json["document_count"] == 1
    late = archive.file("filed later", document_date="2024-03-02")  # joins the order hold at filing
    assert archive.call("get", f"/holds/{placed.json['id']}").json["documents"] == sorted([held["id"], late["id"]])
    assert archive.call("get", f"/documents/{held['id']}").json["retention"]["on_hold"] is True
    archive.travel(**AFTER_EXPIRY)
    assert [d["id"] for d in archive.call("get", "/retention/due").json["items"]] == [other["id"]]
    refused = archive.call("post", "/disposition-batches", json={"documents": [held["id"]]})
    assert (refused.status_code, refused.json["code"]) == (409, "not_due")
    assert archive.call("delete", f"/documents/{held['id']}").json["code"] == "legal_hold"
    batch = propose_and_approve(archive)
    archive.call("post", f"/disposition-batches/{batch['id']}/execute")
    assert archive.call("get", f"/documents/{held['id']}/content").status_code == 200
    assert archive.call("post", f"/holds/{placed.json['id']}/release", "ada", json={"reason": "x"}).status_code == 403
    assert archive.call("post", f"/holds/{placed.json['id']}/release", "bob", json={}).status_code == 400
    released = archive.call("post", f"/holds/{placed.json['id']}/release", "bob", json={"reason": "audit closed"})
    assert released.json["status"] == "released"
    assert sorted(d["id"] for d in archive.call("get", "/retention/due").json["items"]) == \
        sorted([held["id"], late["id"]])
    assert [e.action for e in events(archive.runtime, "hold.placed")] == ["hold.placed"]
    assert len(events(archive.runtime, "hold.released")) == 1


def test_a_customer_hold_takes_in_the_customers_documents_filed_later_and_no_others(archive):
    before = archive.file("filed before")
    placed = archive.call("post", "/holds", "alice", json={"scope": {"customer": "C-1042"}, "reason": "tax audit",
                                                          "case_reference": "FISC-2025-2"}).json
    without_order = archive.file("no order", order=None)
    other_order = archive.file("other order", order={"number": "PO-9"})
    other_customer = archive.file("other customer", customer={"number": "C-7"})
    assert archive.call("get", f"/holds/{placed['id']}").json["documents"] == \
        sorted([before["id"], without_order["id"], other_order["id"]])
    assert archive.call("get", f"/documents/{other_order['id']}").json["retention"]["on_hold"] is True
    assert archive.call("get", f"/documents/{other_customer['id']}").json["retention"]["on_hold"] is False


def test_a_saved_search_hold_catches_documents_filed_while_it_is_active(archive):
    first = archive.file("Dispute 77 invoice", document_date="2024-03-01", title="dispute seventy-seven")
    archive.drain()
    saved = archive.call("post", "/searches", "alice", json={"name": "dispute", "query": "seventy-seven"}).json
    hold = archive.call("post", "/holds", "alice", json={"scope": {"saved_search": saved["id"]}, "reason": "litigation",
                                                        "case_reference": "TGI-77"}).json
    assert hold["document_count"] == 1
    later = archive.file("later", document_date="2024-03-05", title="more on seventy-seven", order={"number": "X"})
    archive.drain()
    found = archive.call("get", "/search?q=seventy-seven").json["hits"]
    assert {h["status"] for h in found if h["id"] == first["id"]} == {"on_hold"}
    archive.travel(**AFTER_EXPIRY)
    assert archive.call("get", "/retention/due").json["items"] == []  # both held: evaluated at disposition time
    assert sorted(archive.call("get", f"/holds/{hold['id']}").json["documents"]) == sorted([first["id"], later["id"]])


def test_disposition_destroys_content_keeps_the_tombstone_and_signs_a_certificate(archive):
    rt = archive.runtime
    doomed = archive.file("doomed", document_date="2024-03-01")
    same = pdf_bytes("twin content", padding=500)
    twin = archive.file("twin", data=same, document_date="2024-03-01")
    keeper = archive.file("keeper", data=same, document_date="2024-03-01", doc_type="contract", order={"number": "P2"})
    assert twin["checksum"] == keeper["checksum"]
    archive.drain()
    rendition = store_test_rendition(rt, doomed["id"])
    archive.travel(**AFTER_EXPIRY)
    batch = propose_and_approve(archive)
    assert batch["document_count"] == 2
    done = archive.call("post", f"/disposition-batches/{batch['id']}/execute", "bob").json
    assert (done["status"], done["disposed_count"]) == ("executed", 2)
    archive.drain()

    gone = archive.call("get", f"/documents/{doomed['id']}/content")
    assert (gone.status_code, gone.json["code"]) == (410, "disposed")
    sealed = rt.blobs
    assert not sealed.inner.path_for(doomed["checksum"]).exists()
    assert sealed.keys.load(doomed["checksum"]) is None
    # identical content still filed as another, live document is not destroyed
    assert archive.call("get", f"/documents/{keeper['id']}/content").status_code == 200
    tombstone = archive.call("get", f"/documents/{doomed['id']}").json
    assert tombstone["checksum"] == doomed["checksum"] and tombstone["retention"]["status"] == "disposed"
    assert archive.call("get", "/search?q=doomed").json["total"] == 0
    assert not sealed.inner.path_for(rendition).exists()  # derived content goes with the original
    assert archive.call("get", f"/documents/{doomed['id']}/renditions/ocr-pdfa").status_code == 410
    with rt.reading() as session:
        assert session.get(Blob, doomed["checksum"]).destroyed_at is not None
        assert session.get(Blob, rendition).destroyed_at is not None
        assert session.get(Extraction, (doomed["id"], 1)) is None
        assert session.get(Extraction, (keeper["id"], 1)) is not None
        assert session.get(Blob, twin["checksum"]).destroyed_at is None
        report = verify_journal(session)
    assert report.ok, report.as_dict()
    assert len(events(rt, "retention.disposed")) == 2

    certificate = archive.call("get", f"/documents/{done['certificate_id']}/content")
    assert certificate.status_code == 200
    with rt.reading() as session:
        key = public_keys(session)[-1]["public_key"]
    body = verify_certificate(certificate.data, key)
    assert sorted(d["id"] for d in body["documents"]) == sorted([doomed["id"], twin["id"]])
    assert body["approvals"]["proposed_by"] == "user:alice" and body["approvals"]["approved_by"] == "user:bob"
    assert body["documents"][0]["versions"][0]["checksum"].startswith("sha256:")
    tampered = certificate.data.replace(doomed["id"].encode(), b"0" * len(doomed["id"]))
    try:
        verify_certificate(tampered, key)
        raise AssertionError("a changed certificate verified")
    except ValueError:
        pass
    view = archive.call("get", f"/documents/{done['certificate_id']}").json
    assert view["doc_type"] == "disposition_certificate" and view["retention"]["action"] == "keep"
    check_pdf_certificate(archive, done, body)


def check_pdf_certificate(archive, done, body):
    """The readable PDF parses, and lists the batch, the approvals, the key id and every destroyed checksum."""
    import io

    import pikepdf
    response = archive.call("get", f"/documents/{done['pdf_certificate_id']}/content")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = pikepdf.open(io.BytesIO(response.data))
    assert pdf.check_pdf_syntax() == []
    text = b"".join(page.Contents.read_bytes() for page in pdf.pages).decode("cp1252")
    for document in body["documents"]:
        assert document["id"] in text
        assert all(v["checksum"] in text for v in document["versions"])
    signature = json.loads(archive.call("get", f"/documents/{done['certificate_id']}/content").data)["signature"]
    assert signature["key_id"] in text and signature["signed"] in text and done["id"] in text
    assert "Approved by user:bob" in text
    view = archive.call("get", f"/documents/{done['pdf_certificate_id']}").json
    assert view["doc_type"] == "disposition_certificate" and view["retention"]["action"] == "keep"


def test_a_certificate_pdf_of_many_pages_is_well_formed(tmp_path):
    import pikepdf
    from retention.certificate_pdf import LINES_PER_PAGE, PdfWriter, item_lines
    path = tmp_path / "c.pdf"
    with path.open("wb") as out:
        writer = PdfWriter(out.write, "Disposition certificate (test) \\ é")
        for n in range(500):
            for line in item_lines({"id": f"doc-{n}", "doc_type": "invoice", "customer": "Société (SA)", "order": None,
                                    "retain_until": "2034-12-31",
                                    "versions": [{"number": 1, "checksum": f"sha256:{n:064x}", "size": n}]}):
                writer.line(line)
        writer.close()
    pdf = pikepdf.open(path)
    assert len(pdf.pages) == -(-1000 // LINES_PER_PAGE)
    assert str(pdf.docinfo.Title) == "Disposition certificate (test) \\ é"
    last = pdf.pages[-1].Contents.read_bytes().decode("cp1252")
    assert f"sha256:{499:064x}" in last and "customer Société \\(SA\\)" in last


def store_test_rendition(rt, document_id: str) -> str:
    from archive.processing import SYSTEM
    from archive.renditions import store_rendition
    made = rt.settings.data_dir / "rendition.pdf"
    made.write_bytes(pdf_bytes("rendition of the doomed document"))
    with rt.transaction() as session:
        return store_rendition(session, rt, SYSTEM, document_id, 1,
                               {"path": str(made), "kind": "ocr-pdfa", "mime_type": "application/pdf"}).checksum


def test_audit_verify_stays_intact_from_the_cli_after_disposition(archive, monkeypatch):
    archive.file("doomed", document_date="2024-03-01")
    archive.travel(**AFTER_EXPIRY)
    batch = propose_and_approve(archive)
    archive.call("post", f"/disposition-batches/{batch['id']}/execute")
    from click.testing import CliRunner
    from web.cli import cli
    settings = archive.runtime.settings
    monkeypatch.setenv("ARCHIVE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ARCHIVE_RETENTION_SCHEDULE", "fr")
    result = CliRunner().invoke(cli, ["audit", "verify"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"]["ok"] is True
