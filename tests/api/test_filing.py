import hashlib

from tests.fixtures.samples import metadata, pdf_bytes, upload


def test_filing_returns_a_receipt_and_location(client, auth):
    data = pdf_bytes("Rechnung 2024-0042")
    response = upload(client, auth, data, metadata(document_date="2024-07-15", title="Invoice 42"))
    assert response.status_code == 201, response.json
    receipt = response.json
    assert receipt["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert receipt["size"] == len(data)
    assert receipt["mime_type"] == "application/pdf"
    assert receipt["doc_type"] == "invoice"
    assert receipt["version"] == 1
    assert receipt["duplicate"] is False
    assert receipt["audit_seq"] > 0
    assert response.headers["Location"].endswith(f"/api/v1/documents/{receipt['id']}")


def test_filed_content_downloads_byte_identical(client, auth):
    data = pdf_bytes("byte identical", padding=5000)
    receipt = upload(client, auth, data, metadata()).json
    response = client.get(f"/api/v1/documents/{receipt['id']}/content", headers=auth)
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["ETag"] == f'"{receipt["checksum"]}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
