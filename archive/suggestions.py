"""What the archive believes a document says: the extracted fields, overlaid with what a person confirmed.

Filer metadata (the document row) always wins over both; callers decide that per use. An unconfirmed extracted
value is a suggestion: it carries its confidence; a confirmed one carries confidence 1.0.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from archive.clock import as_utc
from archive.models import Document, Extraction
from archive.models_understanding import ExtractionConfirmation

NESTED = ("seller", "buyer", "payment")
KEY_FIELDS = ("number", "issue_date", "due_date", "currency", "net_total", "tax_total", "grand_total",
              "amount_due", "order_references", "delivery_references", "invoice_references")


@dataclass
class Suggested:
    doc_type: str | None = None
    source: str | None = None
    confidence: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)   # field names a person confirmed
    confirmed_at: Any = None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.fields.get(name)
        return default if value is None else value

    def field_confidence(self, name: str) -> float | None:
        if name in self.confirmed:
            return 1.0
        if self.fields.get(name) in (None, [], {}):
            return None
        spot = self.provenance.get(name) or self.provenance.get(f"{name}[0]")
        return spot["confidence"] if spot else self.confidence


def overlay(fields: dict[str, Any], corrections: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(fields)
    for name, value in corrections.items():
        if name in NESTED and isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def suggested_for(session: Session, documents: Iterable[Document]) -> dict[str, Suggested]:
    documents = list(documents)
    ids = [d.id for d in documents]
    if not ids:
        return {}
    versions = {d.id: d.current_version for d in documents}
    query = select(Extraction).where(Extraction.document_id.in_(ids)).options(defer(Extraction.text))
    extractions = {e.document_id: e for e in session.scalars(query) if e.version == versions[e.document_id]}
    confirmations = {c.document_id: c for c in session.scalars(
        select(ExtractionConfirmation).where(ExtractionConfirmation.document_id.in_(ids)))}
    return {d.id: _suggested(extractions.get(d.id), _still_valid(confirmations.get(d.id), d)) for d in documents}


def _still_valid(confirmation: ExtractionConfirmation | None, document: Document) -> ExtractionConfirmation | None:
    """A confirmation speaks for the content it was given on: a newer version makes it a suggestion again."""
    if confirmation is None or as_utc(confirmation.confirmed_at) < as_utc(document.versions[-1].created_at):
        return None
    return confirmation


def _suggested(extraction: Extraction | None, confirmation: ExtractionConfirmation | None) -> Suggested:
    out = Suggested()
    if extraction is not None:
        out = Suggested(extraction.doc_type, extraction.source, extraction.confidence, dict(extraction.fields or {}),
                        dict(extraction.provenance or {}))
    if confirmation is not None:
        out.fields = overlay(out.fields, confirmation.fields)
        out.confirmed = set(confirmation.fields)
        out.confirmed_at = confirmation.confirmed_at
        out.doc_type = confirmation.doc_type or out.doc_type
    return out


def key_fields(suggested: Suggested) -> dict[str, Any]:
    """The dossier card's summary: each key field's value with its confidence and whether a person confirmed it."""
    out = {}
    for name in KEY_FIELDS:
        value = suggested.fields.get(name)
        if value not in (None, []):
            out[name] = {"value": value, "confidence": suggested.field_confidence(name),
                         "confirmed": name in suggested.confirmed}
    return out
