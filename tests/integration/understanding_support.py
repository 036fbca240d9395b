"""Stores what processing would store for a text document (understood, then linked), without the pipeline."""
from __future__ import annotations

from sqlalchemy import delete

from archive.extraction.result import Extracted
from archive.linking import link_document
from archive.models import Document, Extraction
from archive.understanding import understand


def store_text_extraction(runtime, document_id: str, text: str, link: bool = True) -> Extracted:
    pages = text.split("\f")
    extracted = understand(Extracted(None, "text", {}, None, text, pages))
    payload = extracted.as_json()
    with runtime.transaction() as session:
        version = session.get(Document, document_id).current_version
        session.execute(delete(Extraction).where(Extraction.document_id == document_id))
        session.add(Extraction(document_id=document_id, version=version, source="text", doc_type=extracted.doc_type,
                               text=text, fields=payload["fields"], confidence=extracted.confidence,
                               created_at=runtime.clock(), pages=pages, provenance=extracted.provenance))
        session.flush()
        if link:
            link_document(session, runtime.clock, document_id)
    return extracted
