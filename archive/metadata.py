"""Parsing and validating what filers send. Every error names the field it is about."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from archive.errors import InvalidInput
from archive.models import RELATION_TYPES

FILING_FIELDS = {"doc_type", "customer", "order", "document_date", "title", "external_reference", "relations",
                 "allow_duplicate"}
EDITABLE_FIELDS = {"doc_type", "customer", "order", "document_date", "title", "external_reference"}
SERVER_OWNED_FIELDS = {
    "id", "checksum", "size", "mime_type", "filed_at", "filed_by", "version", "versions", "current_version",
    "source_channel", "processing", "processing_status", "retain_until", "retention", "retention_class",
    "holds", "hold", "audit_seq", "created_at", "relations", "original_filename", "disposed_at", "status",
}
MAX_TEXT = {"title": 500, "external_reference": 200, "number": 100, "name": 300}


@dataclass(frozen=True)
class Filing:
    doc_type: str
    customer_number: str
    customer_name: str | None = None
    order_number: str | None = None
    document_date: date | None = None
    title: str | None = None
    external_reference: str | None = None
    relations: list[tuple[str, str]] = field(default_factory=list)
    allow_duplicate: bool = False


def invalid(field_name: str, message: str, code: str = "invalid_metadata") -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", code=code, field=field_name)


def parse_json_object(raw: str | bytes | None, field_name: str = "metadata") -> dict[str, Any]:
    if raw is None or raw == "" or raw == b"":
        raise invalid(field_name, "a JSON object is required", code="missing_metadata")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(field_name, f"not valid JSON ({exc})", code="invalid_json") from None
    if not isinstance(value, dict):
        raise invalid(field_name, "must be a JSON object")
    return value


def parse_filing(raw: dict[str, Any]) -> Filing:
    unknown = sorted(set(raw) - FILING_FIELDS)
    if unknown:
        raise invalid(unknown[0], "unknown field", code="unknown_field")
    customer = _object(raw, "customer", required=True)
    order = _object(raw, "order", required=False)
    return Filing(
        doc_type=_text(raw, "doc_type", required=True, limit=64),
        customer_number=_text(customer, "number", required=True, prefix="customer."),
        customer_name=_text(customer, "name", prefix="customer."),
        order_number=_text(order, "number", required=True, prefix="order.") if order is not None else None,
        document_date=_date(raw, "document_date"),
        title=_text(raw, "title"),
        external_reference=_text(raw, "external_reference"),
        relations=_relations(raw.get("relations")),
        allow_duplicate=_bool(raw, "allow_duplicate"),
    )


def parse_patch(raw: dict[str, Any]) -> dict[str, Any]:
    """Returns the requested changes; refuses server-owned and unknown fields."""
    for name in sorted(raw):
        if name in SERVER_OWNED_FIELDS:
            raise invalid(name, "is set by the archive and cannot be changed", code="field_not_editable")
        if name not in EDITABLE_FIELDS:
            raise invalid(name, "unknown field", code="unknown_field")
    if not raw:
        raise invalid("body", "no field to change", code="empty_patch")
    changes: dict[str, Any] = {}
    for name in ("doc_type", "title", "external_reference"):
        if name in raw:
            changes[name] = _text(raw, name, required=name == "doc_type", limit=64 if name == "doc_type" else None)
    if "document_date" in raw:
        changes["document_date"] = _date(raw, "document_date")
    if "customer" in raw:
        changes["customer"] = _text(_object(raw, "customer", required=True), "number", required=True,
                                    prefix="customer.")
    if "order" in raw:
        order = _object(raw, "order", required=False)
        changes["order"] = _text(order, "number", required=True, prefix="order.") if order is not None else None
    return changes


def _object(raw: dict[str, Any], name: str, required: bool) -> dict[str, Any] | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise invalid(name, "is required", code="missing_field")
        return None
    if not isinstance(value, dict):
        raise invalid(name, "must be an object")
    return value


def _text(raw: dict[str, Any], name: str, required: bool = False, prefix: str = "",
          limit: int | None = None) -> str | None:
    value = raw.get(name)
    label = prefix + name
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(label, "is required", code="missing_field")
        return None
    if not isinstance(value, str):
        raise invalid(label, "must be a string")
    limit = limit or MAX_TEXT.get(name, 500)
    if len(value) > limit:
        raise invalid(label, f"is longer than {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise invalid(label, "must not contain control characters")
    return value.strip()


def _date(raw: dict[str, Any], name: str) -> date | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(name, "must be a date as YYYY-MM-DD") from None


def _bool(raw: dict[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise invalid(name, "must be true or false")
    return value


def _relations(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("relations", "must be a list of {type, target}")
    parsed = []
    for index, item in enumerate(value):
        label = f"relations[{index}]"
        if not isinstance(item, dict) or set(item) != {"type", "target"}:
            raise invalid(label, "must be an object with exactly `type` and `target`")
        if item["type"] not in RELATION_TYPES:
            raise invalid(f"{label}.type", f"must be one of {', '.join(RELATION_TYPES)}", code="unknown_relation_type")
        if not isinstance(item["target"], str):
            raise invalid(f"{label}.target", "must be a document id")
        parsed.append((item["type"], item["target"]))
    return parsed
