"""Tables for retention events, legal holds and disposition batches (used by the retention package)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import Base, _id


class RetentionEvent(Base):
    """A trigger that happened (`order_closed`, `contract_ended`, or a custom name), for a document, an order or a
    customer: retention periods that wait for it start on `occurred_on`."""

    __tablename__ = "retention_events"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class LegalHold(Base):
    """Blocks disposition of what it covers, whatever retention says, until released."""

    __tablename__ = "legal_holds"
    id: Mapped[str] = _id()
    scope: Mapped[str] = mapped_column(String(16))  # documents | customer | order | saved_search
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    saved_search_id: Mapped[str | None] = mapped_column(String(36))
    query: Mapped[str | None] = mapped_column(Text)  # the saved search's query when the hold was placed
    reason: Mapped[str] = mapped_column(Text)
    case_reference: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime]
    placed_by: Mapped[str] = mapped_column(String(200))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(Text)


class LegalHoldDocument(Base):
    __tablename__ = "legal_hold_documents"
    hold_id: Mapped[str] = mapped_column(ForeignKey("legal_holds.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True, index=True)
    added_at: Mapped[datetime]


class DispositionBatch(Base):
    """Proposed by one records manager, approved by another, then executed; ends with a signed certificate."""

    __tablename__ = "disposition_batches"
    id: Mapped[str] = _id()
    status: Mapped[str] = mapped_column(String(16))  # proposed | approved | executing | executed
    reason: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[str] = mapped_column(String(100))
    schedule_hash: Mapped[str] = mapped_column(String(80))
    document_count: Mapped[int] = mapped_column(Integer)
    proposed_at: Mapped[datetime]
    proposed_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    executed_at: Mapped[datetime | None]
    executed_by: Mapped[str | None] = mapped_column(String(200))
    disposed_count: Mapped[int | None] = mapped_column(Integer)
    certificate_id: Mapped[str | None] = mapped_column(String(36))
    pdf_certificate_id: Mapped[str | None] = mapped_column(String(36))
    erasure_request_id: Mapped[str | None] = mapped_column(String(36))  # proposed for a GDPR erasure request


class DispositionItem(Base):
    __tablename__ = "disposition_items"
    batch_id: Mapped[str] = mapped_column(ForeignKey("disposition_batches.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))  # disposed | skipped:<why>, after execution


class ErasureRequest(Base):
    """A data subject's request to erase a customer's data (GDPR art. 17), weighed against legal retention."""

    __tablename__ = "erasure_requests"
    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    requester: Mapped[str] = mapped_column(String(500))
    legal_ground: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[str | None] = mapped_column(String(36))  # the disposition batch proposed for free data


class ErasureRequestDocument(Base):
    """What the request found for each document when it was recorded; the report adds what happened since."""

    __tablename__ = "erasure_request_documents"
    request_id: Mapped[str] = mapped_column(ForeignKey("erasure_requests.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True, index=True)
    found: Mapped[str] = mapped_column(String(16))  # restricted | proposed | held | disposed
