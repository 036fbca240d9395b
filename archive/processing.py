"""Processing a filed version: read its text (and, later, its structured fields), then index it.

Runs from the outbox (task `document.process`), never on the filing path. The original is only read. Running it
twice does no harm: the extraction row is replaced and the index record upserted.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from archive.blobstore import read_chunks
from archive.models import Document, Extraction
from archive.runtime import Runtime
from search.indexing import index_document

TEXT_TYPES = ("text/plain", "text/csv", "application/xml")
MAX_TEXT_BYTES = 5 * 1024 * 1024


def process_document(rt: Runtime, payload: dict[str, Any]) -> None:
    document_id = payload["document_id"]
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is None or document.status == "disposed":
            return  # disposed or never committed: nothing to do
        document.processing_status = "processing"
        version = document.versions[-1]
        checksum, size, mime_type, number = version.checksum, version.size, version.mime_type, version.number
    text, source = _read_text(rt, checksum, size, mime_type)
    with rt.transaction() as session:
        session.execute(delete(Extraction).where(Extraction.document_id == document_id,
                                                 Extraction.version == number))
        session.add(Extraction(document_id=document_id, version=number, source=source, doc_type=None, text=text,
                               fields={}, confidence=None, created_at=rt.clock()))
        document = session.get(Document, document_id)
        document.processing_status, document.processing_error = "done", None
    index_document(rt, document_id)


def mark_failed(rt: Runtime, document_id: str, error: str) -> None:
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is not None:
            document.processing_status, document.processing_error = "failed", error[:2000]


def _read_text(rt: Runtime, checksum: str, size: int, mime_type: str) -> tuple[str, str]:
    if mime_type not in TEXT_TYPES:
        return "", "none"
    data = b""
    for chunk in read_chunks(rt.blobs.open(checksum, size)):
        data += chunk
        if len(data) >= MAX_TEXT_BYTES:
            break
    return data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace"), "text"
