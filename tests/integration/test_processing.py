"""The processing pipeline on self-made documents: text PDFs (fr, de, en), a scan through OCR, office files, an email
with attachments, limits, retries; the original is never touched."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from archive.models import AuditEvent, Document, Extraction, OutboxItem, Relation
from archive.tasks import drain
from tests.fixtures import documents as make
from tests.fixtures.samples import metadata, upload

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OCR_TOOLS = shutil.which("tesseract") and shutil.which("gs")


def file_and_process(client, auth, runtime, data: bytes, filename: str, **meta) -> dict:
    response = upload(client, auth, data, metadata(**meta), filename=filename)
    assert response.status_code == 201, response.json
    drain(runtime)
    return client.get(f"/api/v1/documents/{response.json['id']}", headers=auth).json


def search_ids(client, auth, words: str) -> list[str]:
    return [hit["id"] for hit in client.get(f"/api/v1/search?q={words}", headers=auth).json["hits"]]


@pytest.mark.parametrize("lines,words", [(make.FRENCH, "réglement livraison"), (make.GERMAN, "Lieferschein binnen"),
                                         (make.ENGLISH, "delivery attached")])
def test_text_pdfs_in_three_languages_are_read_page_by_page(client, auth, runtime, lines, words):
    shown = file_and_process(client, auth, runtime, make.text_pdf([lines[:2], lines[2:]]), "doc.pdf")
    assert shown["processing"] == {"status": "done", "error": None}
    assert shown["extracted"]["source"] == "text" and shown["renditions"] == []
    assert set(shown["extracted"]["fields"]) >= {"number", "grand_total", "seller", "lines"}
    with runtime.reading() as session:
        extraction = session.get(Extraction, (shown["id"], 1))
        assert len(extraction.pages) == 2 and lines[2] in extraction.pages[1] and lines[0] in extraction.pages[0]
        assert extraction.details["page_count"] == 2
    assert search_ids(client, auth, words) == [shown["id"]]


@pytest.mark.skipif(not OCR_TOOLS, reason="needs tesseract and ghostscript (scripts/services.sh installs them)")
def test_a_scan_is_ocred_into_a_pdfa_rendition_beside_the_untouched_original(client, auth, runtime):
    scan = make.scanned_png(["Lieferschein LS-90210", "Bestellung PO-31337"])
    shown = file_and_process(client, auth, runtime, scan, "scan.png")
    assert shown["processing"]["status"] == "done", shown["processing"]
    assert shown["extracted"]["source"] == "ocr"
    with runtime.reading() as session:
        text = session.get(Extraction, (shown["id"], 1)).text
    assert "Lieferschein" in text and "90210" in text
    [rendition] = shown["renditions"]
    assert rendition["kind"] == "ocr-pdfa" and rendition["mime_type"] == "application/pdf"
    pdfa = client.get(f"/api/v1/documents/{shown['id']}/renditions/ocr-pdfa", headers=auth)
    assert pdfa.status_code == 200 and pdfa.data.startswith(b"%PDF")
    assert rendition["checksum"] == "sha256:" + hashlib.sha256(pdfa.data).hexdigest()
    assert b"pdfaid" in pdfa.data or b"PDF/A" in pdfa.data
    original = client.get(f"/api/v1/documents/{shown['id']}/content", headers=auth)
    assert original.data == scan and shown["checksum"] == "sha256:" + hashlib.sha256(scan).hexdigest()
    with runtime.reading() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.subject == f"document:{shown['id']}")))
    assert {"rendition.created", "rendition.downloaded", "document.downloaded"} <= actions
    assert search_ids(client, auth, "LS-90210") == [shown["id"]]
    missing = client.get(f"/api/v1/documents/{shown['id']}/renditions/thumbnail", headers=auth)
    assert missing.status_code == 404 and missing.json["code"] == "rendition_not_found"


@pytest.mark.skipif(not OCR_TOOLS, reason="needs tesseract and ghostscript (scripts/services.sh installs them)")
def test_an_image_only_pdf_goes_to_ocr(client, auth, runtime):
    shown = file_and_process(client, auth, runtime, make.image_only_pdf(["Facture FA-77812 acompte"]), "scan.pdf")
    assert shown["processing"]["status"] == "done" and shown["extracted"]["source"] == "ocr"
    with runtime.reading() as session:
        assert "77812" in session.get(Extraction, (shown["id"], 1)).text
    assert [r["kind"] for r in shown["renditions"]] == ["ocr-pdfa"]


@pytest.mark.parametrize("build,filename", [(make.docx, "letter.docx"), (make.odt, "letter.odt")])
def test_docx_and_odt_text(client, auth, runtime, build, filename):
    shown = file_and_process(client, auth, runtime, build(["Auftragsbestätigung AB-5005", "Liefertermin KW 12"]),
                             filename, doc_type="order_confirmation")
    assert shown["processing"]["status"] == "done"
    with runtime.reading() as session:
        text = session.get(Extraction, (shown["id"], 1)).text
    assert text.splitlines() == ["Auftragsbestätigung AB-5005", "Liefertermin KW 12"]


def test_xlsx_text_row_by_row(client, auth, runtime):
    shown = file_and_process(client, auth, runtime, make.xlsx([["Artikel", "Menge"], ["Schrauben M6", "500"]]),
                             "list.xlsx")
    with runtime.reading() as session:
        assert session.get(Extraction, (shown["id"], 1)).text == "Artikel\tMenge\nSchrauben M6\t500"


def test_email_body_and_attachments_filed_as_documents_of_the_same_order(client, auth, runtime):
    invoice = make.text_pdf([make.GERMAN])
    message = make.eml("Guten Tag, anbei Rechnung und Lieferschein.",
                       [("rechnung.pdf", "application/pdf", invoice),
                        ("notiz.txt", "text/plain", "Lieferschein folgt separat".encode()),
                        ("tool.exe", "application/octet-stream", b"MZ" + bytes(200))])
    shown = file_and_process(client, auth, runtime, message, "mail.eml", doc_type="correspondence")
    assert shown["mime_type"] == "message/rfc822" and shown["processing"]["status"] == "done"
    with runtime.reading() as session:
        extraction = session.get(Extraction, (shown["id"], 1))
        assert "anbei Rechnung" in extraction.text and "Subject: Rechnung und Lieferschein" in extraction.text
        filed = {a["filename"]: a for a in extraction.details["attachments"]}
    assert set(filed) == {"rechnung.pdf", "notiz.txt", "tool.exe"}
    assert "unsupported_media_type" in filed["tool.exe"]["error"]
    attachment = client.get(f"/api/v1/documents/{filed['rechnung.pdf']['document_id']}", headers=auth).json
    assert attachment["order"] == {"number": "PO-4711"} and attachment["customer"]["number"] == "C-1042"
    assert attachment["source_channel"] == "email" and attachment["processing"]["status"] == "done"
    assert {"type": "attachment-of", "source": attachment["id"], "target": shown["id"],
            "direction": "outgoing"} in attachment["relations"]
    assert client.get(f"/api/v1/documents/{attachment['id']}/content", headers=auth).data == invoice

    def counts():
        with runtime.reading() as session:
            return (session.scalar(select(func.count()).select_from(Document)),
                    session.scalar(select(func.count()).select_from(Relation)))
    before = counts()
    runtime.tasks = None
    from archive.reprocessing import request_reprocess
    from audit.log import Actor
    request_reprocess(runtime, Actor.system("test"), shown["id"])
    drain(runtime)
    assert counts() == before == (3, 2)  # message + 2 accepted attachments; processing again files nothing new


def test_page_limit_fails_with_the_reason_and_keeps_the_original(client, auth, runtime):
    runtime.settings = replace(runtime.settings, processing_max_pages=2)
    data = make.text_pdf([["one"], ["two"], ["three"]])
    shown = file_and_process(client, auth, runtime, data, "long.pdf")
    assert shown["processing"]["status"] == "failed"
    assert "page limit" in shown["processing"]["error"] and "3 pages" in shown["processing"]["error"]
    assert shown["extracted"] is None
    assert client.get(f"/api/v1/documents/{shown['id']}/content", headers=auth).data == data
    with runtime.reading() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "document.processing_failed"))
        assert "page limit" in event.details["reason"]
        assert session.scalar(select(OutboxItem.done_at).where(OutboxItem.task == "document.process")) is not None


def test_a_failure_of_our_own_retries_with_backoff_then_succeeds(client, auth, runtime, monkeypatch):
    from archive import processing
    from archive.clock import FrozenClock
    clock = FrozenClock(runtime.clock())
    runtime.clock = clock
    real = processing._private_copy
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("blob store unreachable")
        return real(*args)
    monkeypatch.setattr(processing, "_private_copy", flaky)
    document_id = upload(client, auth, make.text_pdf([make.ENGLISH]), metadata(), filename="a.pdf").json["id"]
    drain(runtime)
    shown = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert shown["processing"]["status"] == "queued" and "blob store unreachable" in shown["processing"]["error"]
    assert drain(runtime) == 0  # backing off
    clock.advance(seconds=10)
    drain(runtime)
    shown = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert shown["processing"] == {"status": "done", "error": None} and len(calls) == 2


@pytest.mark.parametrize("path,source,number", [
    ("factur-x-akretion/pdf/invoice_EN16931.pdf", "cii", "F20260023"),
    ("factur-x-akretion/xml/ubl-21-en16931.xml", "ubl", None),
])
def test_structured_documents_come_out_exact_through_the_pipeline(client, auth, runtime, path, source, number):
    from tests.conftest import require_corpus
    data = (require_corpus() / path).read_bytes()
    shown = file_and_process(client, auth, runtime, data, path.rsplit("/", 1)[1])
    assert shown["processing"] == {"status": "done", "error": None}
    extracted = shown["extracted"]
    assert (extracted["source"], extracted["doc_type"], extracted["confidence"]) == (source, "invoice", 1.0)
    assert extracted["fields"]["number"] and extracted["fields"]["grand_total"]
    if number:
        assert extracted["fields"]["number"] == number
        assert search_ids(client, auth, number) == [shown["id"]]


def test_a_restricted_documents_rendition_is_refused_like_its_content(client, auth, runtime, make_token):
    from archive.processing import SYSTEM
    from archive.renditions import store_rendition
    shown = file_and_process(client, auth, runtime, make.text_pdf([make.ENGLISH]), "a.pdf")
    made = runtime.settings.data_dir / "r.pdf"
    made.write_bytes(make.text_pdf([["rendition"]]))
    with runtime.transaction() as session:
        store_rendition(session, runtime, SYSTEM, shown["id"], 1,
                        {"path": str(made), "kind": "ocr-pdfa", "mime_type": "application/pdf"})
        session.get(Document, shown["id"]).restricted = True
    reader = {"Authorization": f"Bearer {make_token('read')}"}
    refused = client.get(f"/api/v1/documents/{shown['id']}/renditions/ocr-pdfa", headers=reader)
    assert refused.status_code == 403 and refused.json["code"] == "restricted"
    with runtime.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.access_refused")).one()
        assert event.details["access"] == "rendition"
    assert client.get(f"/api/v1/documents/{shown['id']}/renditions/ocr-pdfa", headers=auth).status_code == 200


def test_a_document_shows_processing_from_the_moment_a_worker_claims_it(client, auth, runtime, monkeypatch):
    import archive.processing
    response = upload(client, auth, make.text_pdf([make.ENGLISH[:2]]), metadata(), filename="doc.pdf")
    document_id = response.json["id"]
    assert client.get(f"/api/v1/documents/{document_id}", headers=auth).json["processing"]["status"] == "queued"
    seen = []
    real = archive.processing.process_document

    def watching(rt, payload):
        seen.append(client.get(f"/api/v1/documents/{payload['document_id']}", headers=auth).json["processing"])
        real(rt, payload)
    monkeypatch.setattr(archive.processing, "process_document", watching)
    drain(runtime)
    assert seen == [{"status": "processing", "error": None}]
    assert client.get(f"/api/v1/documents/{document_id}", headers=auth).json["processing"]["status"] == "done"
