"""Confirming extracted fields: a person accepts them as they are, or corrects some. Audited as
`extraction.confirmed` with each changed field's old and new value; resolves the document's open review reasons and
links it again with the confirmed values.

Body: {"doc_type"?: str, "fields"?: {<issue field>: value, ...}}. `{}` accepts every extracted value unchanged.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from archive.clock import isoformat
from archive.documents import load
from archive.errors import InvalidInput
from archive.filing import require_document_type
from archive.linking import link_document
from archive.models_understanding import ExtractionConfirmation
from archive.outbox import enqueue
from archive.review import open_reasons, resolve_all
from archive.runtime import Runtime
from archive.suggestions import overlay, suggested_for
from archive.understanding.validators import iban_valid, normalise, vat_status
from audit.log import Actor, append

TEXT_FIELDS = ("number", "payment.reference", "seller.name", "seller.id", "buyer.name", "buyer.id")
DATE_FIELDS = ("issue_date", "due_date")
AMOUNT_FIELDS = ("net_total", "tax_total", "grand_total", "amount_due")
LIST_FIELDS = ("order_references", "delivery_references", "invoice_references")
NESTED = {"seller": ("name", "vat_id", "id"), "buyer": ("name", "vat_id", "id"), "payment": ("iban", "reference")}
EDITABLE = {"number", "currency", *DATE_FIELDS, *AMOUNT_FIELDS, *LIST_FIELDS, *NESTED}


def confirm_fields(rt: Runtime, actor: Actor, document_id: str, body: dict[str, Any]) -> dict[str, Any]:
    doc_type, corrections = parse_confirmation(body)
    with rt.transaction() as session:
        document = load(session, document_id)
        if doc_type is not None:
            require_document_type(session, doc_type)
        before = suggested_for(session, [document])[document.id]
        confirmed = overlay(before.fields, corrections)
        changes = _changes(before.fields, confirmed, corrections)
        if doc_type is not None and doc_type != before.doc_type:
            changes["doc_type"] = {"old": before.doc_type, "new": doc_type}
        row = session.get(ExtractionConfirmation, document_id)
        if row is None:
            row = ExtractionConfirmation(document_id=document_id)
            session.add(row)
        row.doc_type = doc_type or before.doc_type
        row.fields = {name: value for name, value in confirmed.items() if name in EDITABLE or name == "payments"}
        row.confirmed_at, row.confirmed_by = rt.clock(), actor.name
        append(session, rt.clock, actor, "extraction.confirmed", f"document:{document_id}",
               {"changes": changes, "accepted": sorted(n for n in row.fields if n not in changes)})
        resolved = resolve_all(session, rt.clock, actor, document_id, "confirmed")
        session.flush()
        link_document(session, rt.clock, document_id)
        enqueue(session, rt.clock, "search.index", {"document_id": document_id})
        view = {"document_id": document_id, "doc_type": row.doc_type, "fields": row.fields,
                "confirmed_at": isoformat(row.confirmed_at), "confirmed_by": row.confirmed_by,
                "changes": changes, "resolved": resolved, "open_reasons": open_reasons(session, document_id)}
    rt.work_committed()
    return view


def _changes(old: dict[str, Any], new: dict[str, Any], corrections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {"old": old.get(name), "new": new.get(name)} for name in sorted(corrections)
            if old.get(name) != new.get(name)}


def parse_confirmation(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    unknown = sorted(set(body) - {"doc_type", "fields"})
    if unknown:
        raise _invalid(unknown[0], "unknown field", "unknown_field")
    doc_type = body.get("doc_type")
    if doc_type is not None and (not isinstance(doc_type, str) or not doc_type.strip()):
        raise _invalid("doc_type", "must be a document type code")
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise _invalid("fields", "must be an object of field names and values")
    return doc_type, {name: _field(name, value) for name, value in fields.items()}


def _field(name: str, value: Any) -> Any:
    if name not in EDITABLE:
        raise _invalid(f"fields.{name}", "not a field that can be confirmed", "unknown_field")
    if name in NESTED:
        if not isinstance(value, dict):
            raise _invalid(f"fields.{name}", f"must be an object with {', '.join(NESTED[name])}")
        return {key: _nested(name, key, item) for key, item in value.items()}
    if value is None:
        return [] if name in LIST_FIELDS else None
    if name in LIST_FIELDS:
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v.strip()) <= 100 for v in value):
            raise _invalid(f"fields.{name}", "must be a list of reference strings")
        return [v.strip() for v in value]
    if name in DATE_FIELDS:
        return _date(f"fields.{name}", value)
    if name in AMOUNT_FIELDS:
        return _amount(f"fields.{name}", value)
    if name == "currency":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
            raise _invalid("fields.currency", "must be an ISO 4217 code such as EUR")
        return value
    return _text(f"fields.{name}", value)


def _nested(name: str, key: str, value: Any) -> Any:
    path = f"fields.{name}.{key}"
    if key not in NESTED[name]:
        raise _invalid(path, "unknown field", "unknown_field")
    if value is None:
        return None
    text = _text(path, value)
    if key == "vat_id":
        if vat_status(text) == "invalid":
            raise _invalid(path, "not a valid VAT id (format or check digits)", "invalid_vat_id")
        return normalise(text)
    if key == "iban":
        if not iban_valid(text):
            raise _invalid(path, "not a valid IBAN (mod-97 check failed)", "invalid_iban")
        return normalise(text)
    return text


def _text(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 300:
        raise _invalid(path, "must be a non-empty string of at most 300 characters")
    return value.strip()


def _date(path: str, value: Any) -> str:
    try:
        return date.fromisoformat(value).isoformat() if isinstance(value, str) and len(value) == 10 else _bad()
    except ValueError:
        raise _invalid(path, "must be a date YYYY-MM-DD") from None


def _amount(path: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,15}(\.\d{1,4})?", value):
        raise _invalid(path, "must be a decimal string such as \"1234.50\"")
    try:
        return str(Decimal(value).quantize(Decimal("0.01")))
    except InvalidOperation:
        raise _invalid(path, "must be a decimal string") from None


def _bad() -> str:
    raise ValueError


def _invalid(field: str, message: str, code: str = "invalid_field") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, field=field)
