"""The shared result of every extractor: one `Extracted` per document, with the issue's `fields` keys.

Amounts are decimal strings ("1234.50"), dates ISO ("YYYY-MM-DD"). Every key of FIELD_KEYS is present in `fields`;
a missing value is None (or [] for the list keys), never absent.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

LIST_KEYS = ("order_references", "delivery_references", "invoice_references", "lines")
PARTY_KEYS = ("seller", "buyer")
FIELD_KEYS = (
    "number", "issue_date", "due_date", "currency",
    "net_total", "tax_total", "grand_total", "amount_due",
    "seller", "buyer",
    "order_references", "delivery_references", "invoice_references",
    "payment", "lines",
)
LINE_KEYS = ("id", "description", "quantity", "unit_price", "net_amount")
PAYMENT_KEYS = ("amount", "currency", "reference", "end_to_end_id", "invoice_references", "debtor", "creditor",
                "iban", "booking_date")


class ExtractionError(Exception):
    """A document we recognise (or refuse on principle, e.g. XML with a DTD) that cannot be parsed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Party:
    name: str | None = None
    vat_id: str | None = None
    id: str | None = None

    def is_empty(self) -> bool:
        return self.name is None and self.vat_id is None and self.id is None


def blank_fields() -> dict[str, Any]:
    """All the issue's keys with their 'missing' value, ready to be filled."""
    fields: dict[str, Any] = {key: None for key in FIELD_KEYS}
    for key in LIST_KEYS:
        fields[key] = []
    for key in PARTY_KEYS:
        fields[key] = Party()
    fields["payment"] = {"iban": None, "reference": None}
    return fields


@dataclass
class Extracted:
    doc_type: str | None
    source: str
    fields: dict[str, Any]
    confidence: float | None
    text: str = ""
    pages: list[str] = field(default_factory=list)
    provenance: dict[str, dict] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict:
        out = {
            "doc_type": self.doc_type,
            "source": self.source,
            "fields": _plain(self.fields),
            "confidence": self.confidence,
        }
        if self.provenance:
            out["provenance"] = _plain(self.provenance)
        return out


def _plain(value: Any) -> Any:
    """JSON-ready copy: Party (any dataclass) becomes a dict, tuples become lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
