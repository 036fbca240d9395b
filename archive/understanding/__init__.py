"""Understanding unstructured documents: what kind they are, and which order data they carry.

`understand(extracted)` fills `doc_type`, `fields`, `provenance` and `confidence` of a text or OCR extraction from
its pages; structured extractions (cii, ubl, camt) are exact already and come back untouched. Provenance keys are
field paths ("number", "buyer.id", "seller.vat_id", "payment.iban", "order_references[0]"), each
{"page" (1-based), "start", "end" (offsets in that page's text), "confidence"}. Line items are not read from text.
"""
from __future__ import annotations

from dataclasses import replace
from statistics import mean
from typing import Any

from archive.extraction.result import Extracted, Party, blank_fields
from archive.understanding.amounts import amount_due_default, find_amounts
from archive.understanding.classify import classify
from archive.understanding.fields import (find_currency, find_dates_labelled, find_iban, find_payment_reference,
                                          find_vat_ids)
from archive.understanding.references import find_references
from archive.understanding.spans import Found, lines_of
from archive.understanding.values import fold

UNSTRUCTURED = ("text", "ocr")
OWN_KIND = {"invoice": "invoice", "credit_note": "credit", "delivery_note": "delivery", "contract": "contract",
            "order_confirmation": "confirmation", "purchase_order": "order", "customer_order": "order",
            "payment_advice": "payment"}
REFERENCE_FIELDS = (("order", "order_references"), ("delivery", "delivery_references"),
                    ("invoice", "invoice_references"))
# the fields a document of each type is expected to carry: missing ones lower the overall confidence
EXPECTED = {"invoice": ("number", "issue_date", "grand_total", "currency", "order_references"),
            "credit_note": ("number", "issue_date", "grand_total", "currency", "invoice_references"),
            "delivery_note": ("number", "issue_date", "order_references"),
            "order_confirmation": ("number", "issue_date", "order_references"),
            "payment_advice": ("issue_date", "grand_total", "invoice_references"),
            "purchase_order": ("number", "issue_date"), "contract": ("number", "issue_date")}
DEFAULT_EXPECTED = ("number", "issue_date")


def understand(extracted: Extracted) -> Extracted:
    if extracted.source not in UNSTRUCTURED:
        return extracted
    pages = extracted.pages or ([extracted.text] if extracted.text else [])
    if not any(page.strip() for page in pages):
        return replace(extracted, doc_type=None, fields=blank_fields(), confidence=0.0, provenance={})
    folded = [fold(page) for page in pages]
    lines = lines_of(pages, folded)
    kind = classify(pages, folded)
    found = _found_values(lines, kind.doc_type)
    fields, provenance = _assemble(found, kind.doc_type)
    return replace(extracted, doc_type=kind.doc_type, fields=fields, provenance=provenance,
                   confidence=_overall(kind.confidence, found, kind.doc_type),
                   details={**extracted.details, "classification": {k: round(v, 2) for k, v in kind.scores.items()}})


def _found_values(lines, doc_type: str | None) -> dict[str, Any]:
    references = find_references(lines)
    own = references.get(OWN_KIND.get(doc_type or ""), []) or references.get("generic", [])
    found: dict[str, Any] = {"number": own[0] if own else None}
    for kind, field in REFERENCE_FIELDS:
        values = [] if OWN_KIND.get(doc_type or "") == kind else references.get(kind, [])
        found[field] = _unique(values)
    customer = references.get("customer", [])
    found["buyer.id"] = customer[0] if customer else None
    found.update(find_dates_labelled(lines))
    amounts = find_amounts(lines, credit=doc_type == "credit_note")
    if doc_type in ("invoice", "credit_note"):
        amount_due_default(amounts)
    found.update(amounts)
    found["currency"] = find_currency(lines, amounts.get("grand_total"))
    for role, vat in find_vat_ids(lines).items():
        found[f"{role}.vat_id"] = vat
    found["payment.iban"] = find_iban(lines)
    found["payment.reference"] = find_payment_reference(lines)
    return found


def _unique(values: list[Found]) -> list[Found]:
    seen: dict[str, Found] = {}
    for value in values:
        seen.setdefault(value.value, value)
    return list(seen.values())


def _assemble(found: dict[str, Any], doc_type: str | None) -> tuple[dict[str, Any], dict[str, dict]]:
    fields = blank_fields()
    provenance: dict[str, dict] = {}
    for path, value in found.items():
        if isinstance(value, list):
            fields[path] = [item.value for item in value]
            provenance.update({f"{path}[{i}]": item.provenance() for i, item in enumerate(value)})
        elif value is not None:
            _set(fields, path, value.value)
            provenance[path] = value.provenance()
    if doc_type == "payment_advice":
        if fields["grand_total"] is None and fields["amount_due"] is not None:  # "Zahlbetrag": the sum paid
            fields["grand_total"], fields["amount_due"] = fields["amount_due"], None
            provenance["grand_total"] = provenance.pop("amount_due")
        fields["payments"] = _payments(fields)
    return fields, provenance


def _set(fields: dict[str, Any], path: str, value: Any) -> None:
    head, _, tail = path.partition(".")
    if not tail:
        fields[head] = value
    elif isinstance(fields[head], Party):
        setattr(fields[head], tail, value)
    else:
        fields[head][tail] = value


def _payments(fields: dict[str, Any]) -> list[dict[str, Any]]:
    amount = fields["amount_due"] or fields["grand_total"]
    if amount is None and not fields["invoice_references"]:
        return []
    return [{"amount": amount, "currency": fields["currency"], "reference": fields["payment"]["reference"],
             "end_to_end_id": None, "invoice_references": list(fields["invoice_references"]),
             "debtor": None, "creditor": None, "iban": fields["payment"]["iban"],
             "booking_date": fields["issue_date"]}]


def _overall(classification: float, found: dict[str, Any], doc_type: str | None) -> float:
    """Honest about gaps: an expected field that was not found counts as zero."""
    scores = []
    for key in EXPECTED.get(doc_type or "", DEFAULT_EXPECTED):
        value = found.get(key)
        value = value[0] if isinstance(value, list) and value else value
        scores.append(value.confidence if isinstance(value, Found) else 0.0)
    return round(min(classification, mean(scores)), 2)
