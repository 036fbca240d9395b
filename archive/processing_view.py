"""What a document's JSON shows of its processing: the extraction of its current version and its renditions."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import isoformat
from archive.models import Document, Extraction, Rendition


def extracted_view(session: Session, document: Document) -> dict[str, Any] | None:
    """{doc_type, source, fields, confidence} (+ provenance when there is any); None until processed."""
    extraction = session.get(Extraction, (document.id, document.current_version))
    if extraction is None:
        return None
    view = {"doc_type": extraction.doc_type, "source": extraction.source, "fields": extraction.fields,
            "confidence": extraction.confidence}
    if extraction.provenance:
        view["provenance"] = extraction.provenance
    return view


def renditions_view(session: Session, document_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Rendition).where(Rendition.document_id == document_id)
                           .order_by(Rendition.version, Rendition.kind)).all()
    return [{"kind": r.kind, "version": r.version, "checksum": r.checksum, "size": r.size, "mime_type": r.mime_type,
             "created_at": isoformat(r.created_at)} for r in rows]
