"""Bad input gets a clear 4xx with a machine-readable code, and nothing is left half-written."""
import io
import json
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from archive.models import AuditEvent, Blob, Document, DocumentVersion
from tests.fixtures.samples import ELF_HEADER, metadata, pdf_bytes, upload


def counts(runtime):
    with runtime.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Document, DocumentVersion, Blob))


def stored_blobs(runtime):
    return list(runtime.blobs.checksums())


def spooled_files(runtime):
    return list(runtime.blobs.spool_dir().iterdir())


def assert_nothing_written(runtime):
    assert counts(runtime) == (0, 0, 0)
    assert stored_blobs(runtime) == []
    assert spooled_files(runtime) == []


def assert_problem(response, status, code):
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert response.json["status"] == status
    assert response.json["detail"]


def test_missing_file_part(client, auth, runtime):
    response = client.post("/api/v1/documents", data={"metadata": metadata()}, headers=auth,
                           content_type="multipart/form-data")
    assert_problem(response, 400, "missing_file")
    assert_nothing_written(runtime)


def test_empty_file(client, auth, runtime):
    assert_problem(upload(client, auth, b"", metadata()), 400, "empty_file")
    assert_nothing_written(runtime)


def test_over_the_size_limit_is_refused_while_streaming(client, auth, runtime):
    too_big = pdf_bytes(padding=runtime.settings.max_upload_bytes + 10)
    assert_problem(upload(client, auth, too_big, metadata()), 413, "file_too_large")
    assert_nothing_written(runtime)


def test_body_far_over_the_limit_is_refused_before_reading(client, auth, runtime):
    huge = pdf_bytes(padding=runtime.settings.max_upload_bytes + 2 * 1024 * 1024)
    assert_problem(upload(client, auth, huge, metadata()), 413, "payload_too_large")
    assert_nothing_written(runtime)


def test_executable_renamed_to_pdf_is_refused_naming_the_detected_type(client, auth, runtime):
    response = upload(client, auth, ELF_HEADER, metadata(), filename="invoice.pdf")
    assert_problem(response, 415, "unsupported_media_type")
    assert "executable" in response.json["detected_type"]
    assert_nothing_written(runtime)


@pytest.mark.parametrize("raw, field", [
    ("{not json", "metadata"),
    ("[1, 2]", "metadata"),
    (json.dumps({"customer": {"number": "C-1"}}), "doc_type"),
    (json.dumps({"doc_type": "invoice"}), "customer"),
    (json.dumps({"doc_type": "invoice", "customer": {"name": "x"}}), "customer.number"),
    (json.dumps({"doc_type": "invoice", "customer": {"number": "C"}, "document_date": "31/12/2024"}),
     "document_date"),
    (json.dumps({"doc_type": "invoice", "customer": {"number": "C"}, "colour": "red"}), "colour"),
    (json.dumps({"doc_type": "invoice", "customer": {"number": "C"}, "relations": [{"type": "eats", "target": "x"}]}),
     "relations[0].type"),
])
def test_invalid_metadata_names_the_field(client, auth, runtime, raw, field):
    response = upload(client, auth, pdf_bytes(), raw)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert field in response.json["detail"]
    assert_nothing_written(runtime)


def test_missing_metadata(client, auth, runtime):
    assert_problem(upload(client, auth, pdf_bytes(), None), 400, "missing_metadata")
    assert_nothing_written(runtime)


def test_unknown_document_type(client, auth, runtime):
    response = upload(client, auth, pdf_bytes(), metadata(doc_type="horoscope"))
    assert_problem(response, 400, "unknown_document_type")
    assert "invoice" in response.json["detail"]
    assert_nothing_written(runtime)


def test_relation_to_an_unknown_document(client, auth, runtime):
    response = upload(client, auth, pdf_bytes(), metadata(relations=[{"type": "invoices", "target": "nope"}]))
    assert_problem(response, 400, "unknown_relation_target")
    assert_nothing_written(runtime)


@pytest.mark.parametrize("filename", [
    "../../etc/passwd.pdf", "/etc/shadow.pdf", "C:\\Windows\\evil.pdf", "in\r\nvoice.pdf", 'in"voice".pdf',
    "invoice\u202efdp.exe", "é" * 300 + ".pdf",
])
def test_hostile_filenames_are_only_metadata_and_safely_encoded(client, auth, runtime, filename):
    data = pdf_bytes(filename)
    receipt = upload_raw_filename(client, auth, data, filename).json
    assert receipt["size"] == len(data)
    disposition = client.get(f"/api/v1/documents/{receipt['id']}/content", headers=auth).headers[
        "Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert "\u202e" not in disposition
    assert "/" not in disposition.split("filename=")[1].split(";")[0]
    assert "\\" not in disposition
    assert disposition.isascii()
    assert len(disposition) < 1200
    for path in runtime.settings.data_dir.rglob("*"):
        assert ".." not in path.name and "passwd" not in path.name and "evil" not in path.name


def upload_raw_filename(client, auth, data, filename):
    """Sends the name RFC 5987-encoded (filename*), the way a hostile client can smuggle CR/LF through."""
    boundary = "XBOUNDARY"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{metadata()}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename*=UTF-8''{quote(filename, safe='')}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/api/v1/documents", data=body, headers={
        **auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 201, response.json
    shown = client.get(f"/api/v1/documents/{response.json['id']}", headers=auth).json
    assert shown["versions"][0]["original_filename"] == filename[:1000]
    return response


def test_wrong_token(client, runtime):
    response = client.get("/api/v1/customers", headers={"Authorization": "Bearer arc_nothing_here"})
    assert_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with runtime.transaction() as session:
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")).all()
    assert len(failed) == 1 and failed[0].outcome == "denied"


def test_missing_token(client):
    assert_problem(client.get("/api/v1/customers"), 401, "missing_token")


def test_tampered_token_secret(client, make_token):
    token = make_token("read")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_problem(client.get("/api/v1/customers", headers={"Authorization": f"Bearer {tampered}"}), 401,
                   "invalid_token")


def test_missing_scope(client, make_token, runtime):
    read_only = {"Authorization": f"Bearer {make_token('read')}"}
    assert_problem(upload(client, read_only, pdf_bytes(), metadata()), 403, "missing_scope")
    assert_problem(client.get("/api/v1/audit/events", headers=read_only), 403, "missing_scope")
    assert counts(runtime) == (0, 0, 0)


@pytest.mark.parametrize("field", ["checksum", "filed_at", "retain_until", "retention", "size", "versions"])
def test_patching_server_owned_fields_is_refused(client, auth, field):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    response = client.patch(f"/api/v1/documents/{receipt['id']}", json={field: "x", "title": "ok"}, headers=auth)
    assert_problem(response, 400, "field_not_editable")
    assert response.json["field"] == field
    assert client.get(f"/api/v1/documents/{receipt['id']}", headers=auth).json["title"] is None


def test_bad_query_parameters(client, auth):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    assert_problem(client.get(f"/api/v1/documents/{receipt['id']}/content?version=abc", headers=auth), 400,
                   "invalid_parameter")
    assert_problem(client.get(f"/api/v1/documents/{receipt['id']}/content?version=7", headers=auth), 404,
                   "version_not_found")
    assert_problem(client.get("/api/v1/audit/events?cursor=zz", headers=auth), 400, "invalid_cursor")
    assert_problem(client.get("/api/v1/audit/events?since=yesterday", headers=auth), 400, "invalid_parameter")


def test_unknown_document_is_404(client, auth):
    assert_problem(client.get("/api/v1/documents/does-not-exist", headers=auth), 404, "document_not_found")


def test_client_disconnect_mid_upload_leaves_no_rows(client, auth, runtime):
    boundary = "XBOUNDARY"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{metadata()}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + pdf_bytes(padding=50_000)
    declared = len(head) + 100_000  # the client promised more than it sends, then hung up
    response = client.post("/api/v1/documents", input_stream=io.BytesIO(head), headers={
        **auth, "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(declared)})
    assert response.status_code == 400
    # werkzeug reports a short body as a disconnect, or (behind servers that terminate the input) as truncation.
    assert response.json["code"] in ("client_disconnected", "malformed_multipart")
    assert_nothing_written(runtime)
