"""The review queue as the UI shows it.

Issue #4 brings the real queue (`GET /api/v1/review`); until it is on main, documents need a person when their
processing failed or their extraction is unsure. Kept behind this one function so the pages do not change.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from archive.clock import isoformat
from archive.models import Document, Extraction
from audit.log import append
from web.context import actor, runtime

UNSURE = 0.8


def review_items(limit: int = 100) -> list[dict[str, Any]]:
    rt = runtime()
    with rt.transaction() as session:
        rows = session.execute(
            select(Document, Extraction.confidence).outerjoin(
                Extraction, (Extraction.document_id == Document.id) & (Extraction.version == Document.current_version))
            .where(Document.status == "active")
            .where(or_(Document.processing_status == "failed", Extraction.confidence < UNSURE))
            .order_by(Document.filed_at.desc()).limit(limit)).all()
        items = [{"id": d.id, "doc_type": d.doc_type, "title": d.title, "customer": d.customer.number,
                  "order": d.order.number if d.order else None, "filed_at": isoformat(d.filed_at),
                  "reason": "processing_failed" if d.processing_status == "failed" else "low_confidence",
                  "detail": d.processing_error if d.processing_status == "failed" else f"{confidence:.0%}"}
                 for d, confidence in rows]
        append(session, rt.clock, actor(), "review.listed", None, {"returned": len(items)})
    return items
