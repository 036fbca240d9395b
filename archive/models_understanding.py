"""Tables of the understanding step: confirmed fields, the references a document carries, the review queue."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import Base, _id


class ExtractionConfirmation(Base):
    """What a person confirmed or corrected. It outlives reprocessing: confirmed values win over extracted ones."""

    __tablename__ = "extraction_confirmations"
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    doc_type: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]]
    confirmed_at: Mapped[datetime]
    confirmed_by: Mapped[str] = mapped_column(String(200))


class DocumentReference(Base):
    """A number a document carries (`number`) or cites (`order`, `invoice`, `delivery`), for exact look-ups."""

    __tablename__ = "document_references"
    __table_args__ = (Index("ix_document_references_kind_value", "kind", "value"),)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


class ReviewItem(Base):
    """One reason why a document needs a person. Resolved items stay, so a dismissed reason is not raised again."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("document_id", "reason", "detail", name="uq_review_items"),
                      Index("ix_review_items_open", "resolved_at", "document_id"))
    id: Mapped[str] = _id()
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(String(32))
