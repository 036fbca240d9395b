"""Search through the API and CLI, kept current by the outbox, rebuilt and checked against the database."""
import csv
import io
import time

import pytest
from sqlalchemy import select

from archive.models import AuditEvent, Document
from archive.tasks import InProcessQueue, drain
from tests.fixtures.samples import metadata, upload


def file_text(client, auth, text, filename="note.txt", **meta):
    response = upload(client, auth, text.encode(), metadata(**meta), filename=filename)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def filed(client, auth, runtime):
    docs = [
        file_text(client, auth, "Facture: retour de marchandise, réception le 3 juillet", title="Facture 42",
                  document_date="2024-07-03", external_reference="INV-2024/0042"),
        file_text(client, auth, "Lieferschein für die Hauptstraße", doc_type="delivery_note",
                  document_date="2024-07-04"),
        file_text(client, auth, "Invoice for customer two", customer={"number": "C-2"}, order=None,
                  title="=HYPERLINK(\"http://x\")", document_date="2023-01-02"),
    ]
    assert drain(runtime) >= 3
    return docs


def test_filed_documents_become_searchable(client, auth, runtime, filed):
    result = client.get("/api/v1/search?q=facture", headers=auth).json
    assert [h["id"] for h in result["hits"]] == [filed[0]["id"]]
    assert "<mark>" in result["hits"][0]["snippet"]
    assert result["total"] == 1 and result["total_relation"] == "eq"
    assert client.get("/api/v1/search?q=hauptstrasse", headers=auth).json["hits"][0]["id"] == filed[1]["id"]
    assert client.get("/api/v1/search?q=2024/0042", headers=auth).json["hits"][0]["id"] == filed[0]["id"]
    facets = client.get("/api/v1/search?q=-zzz", headers=auth).json["facets"]
    assert facets["type"] == {"invoice": 2, "delivery_note": 1}
    shown = client.get(f"/api/v1/documents/{filed[0]['id']}", headers=auth).json
    assert shown["processing"] == {"status": "done", "error": None}
    with runtime.reading() as session:
        performed = session.scalars(select(AuditEvent).where(AuditEvent.action == "search.performed")).all()
    assert performed[0].details["query"] == "facture" and performed[0].details["total"] == 1


def test_corrections_reach_the_index(client, auth, runtime, filed):
    client.patch(f"/api/v1/documents/{filed[1]['id']}", json={"title": "Rücksendung Karton"}, headers=auth)
    drain(runtime)
    assert client.get("/api/v1/search?q=rucksendung", headers=auth).json["hits"][0]["id"] == filed[1]["id"]


def test_csv_export_neutralises_formulas(client, auth, filed):
    response = client.get("/api/v1/search/export?q=invoice OR facture OR lieferschein", headers=auth)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "id" and len(rows) == 4
    titles = {row[4] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://x\")" in titles


@pytest.mark.parametrize("query, code", [
    ("", "empty_query"), ("x" * 10_000, "query_too_long"), ('"unbalanced', "query_syntax"),
    ("(a b", "query_syntax"), ("amount:>lots", "query_syntax"),
])
def test_bad_queries_are_400(client, auth, query, code):
    response = client.get("/api/v1/search", query_string={"q": query}, headers=auth)
    assert response.status_code == 400 and response.json["code"] == code
    if code == "query_syntax":
        assert "position" in response.json


def test_bad_paging_is_400_and_huge_pages_are_capped(client, auth, filed):
    assert client.get("/api/v1/search?q=a&cursor=garbage", headers=auth).json["code"] == "invalid_cursor"
    assert client.get("/api/v1/search?q=a&sort=random", headers=auth).json["code"] == "invalid_parameter"
    capped = client.get("/api/v1/search?q=-zzz&limit=100000", headers=auth)
    assert capped.status_code == 200 and len(capped.json["hits"]) == 3


@pytest.mark.parametrize("q", ["*:*", '{"match_all":{}}', "a NEAR b", "x) OR (1=1"])
def test_engine_syntax_is_taken_as_text(client, auth, filed, q):
    response = client.get("/api/v1/search", query_string={"q": q}, headers=auth)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json["code"] == "query_syntax"


def test_saved_searches(client, auth):
    saved = client.post("/api/v1/searches", json={"name": "Q3 invoices", "query": "type:invoice date:2024-07..2024-09"},
                        headers=auth)
    assert saved.status_code == 201
    assert client.post("/api/v1/searches", json={"name": "Q3 invoices", "query": "x"}, headers=auth).status_code == 409
    assert client.post("/api/v1/searches", json={"name": "bad", "query": "(x"}, headers=auth).status_code == 400
    assert [s["name"] for s in client.get("/api/v1/searches", headers=auth).json["items"]] == ["Q3 invoices"]
    assert client.delete(f"/api/v1/searches/{saved.json['id']}", headers=auth).status_code == 204
    assert client.get("/api/v1/searches", headers=auth).json["items"] == []


def test_reindex_and_drift_check(cli, runtime, filed):
    assert cli("search", "check").exit_code == 0
    runtime.search.delete([filed[0]["id"]])
    runtime.search.upsert([_ghost(runtime)])
    result = cli("search", "check")
    assert result.exit_code == 1 and '"missing": 1' in result.output and '"extra": 1' in result.output
    assert cli("search", "check", "--repair").exit_code == 0
    assert cli("search", "check").exit_code == 0
    assert cli("search", "reindex").exit_code == 0
    assert '"total": 1' in cli("search", "facture").output


def test_a_record_follows_the_current_version_and_keeps_its_stamp_format(client, auth, runtime, filed):
    """Records are read with one query per batch; stamps already in an index must still compare equal."""
    import hashlib
    import json

    from archive.models import Extraction
    from search.indexing import _record_batches, record_for
    document_id = filed[0]["id"]
    response = client.post(f"/api/v1/documents/{document_id}/versions", headers=auth,
                           data={"file": (io.BytesIO(b"second version about zebras"), "v2.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert drain(runtime) >= 1
    with runtime.reading() as session:
        document = session.get(Document, document_id)
        record = record_for(session, document_id)
        extraction = session.get(Extraction, (document_id, 2))
        old_parts = [document.doc_type, document.customer_id, document.order_id, document.title,
                     document.document_date, document.external_reference, document.current_version,
                     extraction.created_at]
    assert record.text.startswith("second version about zebras") and record.filename == "v2.txt"
    assert record.references == ("INV-2024/0042",) and record.title == "Facture 42"
    assert record.stamp == hashlib.sha256(json.dumps(old_parts, default=str).encode()).hexdigest()[:16]
    batched = {r.id: r for batch in _record_batches(runtime, "", 2) for r in batch}
    assert set(batched) == {d["id"] for d in filed} and batched[document_id] == record


def _ghost(runtime):
    from search.indexing import record_for
    with runtime.reading() as session:
        document = session.scalars(select(Document)).first()
        record = record_for(session, document.id)
    return record.__class__(**{**record.__dict__, "id": "ffffffff-ghost"})


def test_the_in_process_worker_indexes_without_being_asked(client, auth, runtime):
    runtime.tasks = InProcessQueue(runtime, poll_seconds=0.2)
    runtime.tasks.start()
    try:
        receipt = file_text(client, auth, "zebra crossing invoice")
        for _ in range(50):
            hits = client.get("/api/v1/search?q=zebra", headers=auth).json["hits"]
            if hits:
                break
            time.sleep(0.1)
        assert [h["id"] for h in hits] == [receipt["id"]]
    finally:
        runtime.tasks.stop()
        runtime.tasks = None


def test_an_interrupted_reindex_resumes_after_what_the_index_committed(runtime, filed, monkeypatch):
    import search.fts5
    from search.fts5 import Fts5Index
    from search.indexing import check, reindex
    monkeypatch.setattr(search.fts5, "BULK_COMMIT", 1)
    write, writes = Fts5Index._write, []

    def failing_second_batch(self, conn, rows):
        writes.append(rows[0].record.id)
        if len(writes) == 2:
            raise OSError("disk full")
        write(self, conn, rows)

    monkeypatch.setattr(Fts5Index, "_write", failing_second_batch)
    with pytest.raises(OSError):
        reindex(runtime, batch=1)
    cursor = runtime.settings.data_dir / "reindex.cursor"
    first = min(doc["id"] for doc in filed)
    assert cursor.read_text() == first == writes[0]
    assert [i for i, _ in runtime.search.stamps()] == [first]
    monkeypatch.setattr(Fts5Index, "_write", write)
    seen = []
    assert reindex(runtime, resume=True, batch=1, progress=seen.append) == 2
    assert [(p.done, p.total) for p in seen] == [(2, 3), (3, 3)]
    assert check(runtime).clean and not cursor.exists()
