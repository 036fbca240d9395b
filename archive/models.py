"""The metadata model. Content lives in the blob store; these rows describe it and tie it to customers and orders."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, false,
                        TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from archive.ids import new_id


class UTCDateTime(TypeDecorator):
    """Stores UTC, always hands back timezone-aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware values")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


class DocumentType(Base):
    """Document types are data: new ones are rows, not code. `stage` places them in the order-to-cash dossier."""

    __tablename__ = "document_types"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32))


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[str] = _id()
    number: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    vat_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    orders: Mapped[list[Order]] = relationship(back_populates="customer", order_by="Order.number")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("customer_id", "number", name="uq_orders_customer_number"),)
    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    number: Mapped[str] = mapped_column(String(100))
    order_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32), default="open")
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    customer: Mapped[Customer] = relationship(back_populates="orders")


class Blob(Base):
    """One stored content, identified by its plaintext checksum. Stored once however often it is filed."""

    __tablename__ = "blobs"
    checksum: Mapped[str] = mapped_column(String(80), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]  # content destroyed by disposition; the row stays for the tombstone


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_customer_order", "customer_id", "order_id"),)
    id: Mapped[str] = _id()
    doc_type: Mapped[str] = mapped_column(ForeignKey("document_types.code"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(500))
    document_date: Mapped[date | None] = mapped_column(Date)
    external_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    filed_at: Mapped[datetime] = mapped_column(index=True)
    filed_by: Mapped[str] = mapped_column(String(200))
    source_channel: Mapped[str] = mapped_column(String(32))
    processing_status: Mapped[str] = mapped_column(String(16), default="queued")
    processing_error: Mapped[str | None] = mapped_column(Text)
    # Retention (retention/policies.py): retain_until only grows; None while its trigger has not happened.
    retain_until: Mapped[date | None] = mapped_column(Date, index=True)
    retention_class: Mapped[str | None] = mapped_column(String(64))
    retention_rule: Mapped[str | None] = mapped_column(Text)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    disposed_at: Mapped[datetime | None]
    # GDPR art. 17 (retention/erasure.py): erasure requested while retention still binds; readable by few.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    customer: Mapped[Customer] = relationship()
    order: Mapped[Order | None] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number")


class DocumentVersion(Base):
    """Immutable: a new version is a new row; database triggers refuse changes to its content columns."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_versions_document_number"),)
    id: Mapped[str] = _id()
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    number: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(ForeignKey("blobs.checksum"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(200))
    original_filename: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    last_verified_at: Mapped[datetime | None]
    document: Mapped[Document] = relationship(back_populates="versions")


RELATION_TYPES = ("confirms", "fulfils", "invoices", "settles", "supersedes", "attachment-of", "relates-to")


class Relation(Base):
    """A typed, directed link: `source` <type> `target`, e.g. an invoice `invoices` an order confirmation."""

    __tablename__ = "relations"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "type", name="uq_relations"),)
    id: Mapped[str] = _id()
    source_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


ROLES = ("admin", "records_manager", "staff", "auditor")


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = _id()
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    language: Mapped[str | None] = mapped_column(String(8))  # UI language preference; None: the browser's


class ApiToken(Base):
    """Only a hash of the secret is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(150), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    secret_hash: Mapped[str] = mapped_column(String(80))
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User | None] = relationship()


class AuditEvent(Base):
    """Append-only and hash-chained (see docs/audit-chain.md). Triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    credential: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str | None] = mapped_column(String(200), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # Stored as its canonical JSON text (docs/audit-chain.md), so verifying never re-encodes it.
    details_json: Mapped[str] = mapped_column("details", Text)
    prev_hash: Mapped[str] = mapped_column(String(80))
    hash: Mapped[str] = mapped_column(String(80))

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.details_json)


class AuditHead(Base):
    """The lock row that serialises appends, and the chain's current tip."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(80))


class OutboxItem(Base):
    """Derived work, written in the same transaction as the change that calls for it."""

    __tablename__ = "outbox"
    id: Mapped[str] = _id()
    task: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    available_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """Remembers the receipt given for a filer's Idempotency-Key, so a retry gets the same answer."""

    __tablename__ = "idempotency_keys"
    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(80))
    receipt: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class SigningKey(Base):
    """Public half of an Ed25519 checkpoint key; the private half stays in the signing key directory."""

    __tablename__ = "signing_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class AuditCheckpoint(Base):
    """A signed tree head over the first `tree_size` audit events (RFC 9162 Merkle tree)."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    frontier: Mapped[list] = mapped_column(JSON)
    timestamp_token: Mapped[str | None] = mapped_column(Text)


class FixityRun(Base):
    """One pass of the fixity check; `cursor` makes it resumable."""

    __tablename__ = "fixity_runs"
    id: Mapped[str] = _id()
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    cursor: Mapped[str | None] = mapped_column(String(80))
    checked: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    problems: Mapped[dict[str, Any]]


class SavedSearch(Base):
    """A query a user keeps, by name; holds may refer to one (a hold on a saved search)."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_saved_searches_owner_name"),)
    id: Mapped[str] = _id()
    owner: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Extraction(Base):
    """What processing read from one version: text, and (for structured documents) fields with a confidence."""

    __tablename__ = "extractions"
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    doc_type: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]]
    confidence: Mapped[float | None]
    created_at: Mapped[datetime]


from archive import models_retention  # noqa: E402,F401 - registers the retention tables on Base.metadata
from archive import models_sessions  # noqa: E402,F401 - registers the UI session tables on Base.metadata
from archive import models_understanding  # noqa: E402,F401 - registers the understanding tables on Base.metadata
