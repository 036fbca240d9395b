"""Translated labels for codes the services return (stages, types, sorts, facets, statuses, reasons)."""
from __future__ import annotations

from typing import Any, Callable

from flask_babel import lazy_gettext as _l

LABELS = {
    "stage": {"intake": _l("Intake"), "confirmation": _l("Verification and confirmation"),
              "fulfilment": _l("Warehouse and fulfilment"), "shipping": _l("Shipping and delivery"),
              "invoicing": _l("Invoicing and payment"), "closing": _l("Closing and reporting"),
              "other": _l("Other documents")},
    "type": {"customer_order": _l("Customer order"), "purchase_order": _l("Purchase order"),
             "order_confirmation": _l("Order confirmation"), "contract": _l("Contract"),
             "delivery_note": _l("Delivery note"), "shipping_document": _l("Shipping document"),
             "invoice": _l("Invoice"), "credit_note": _l("Credit note"), "payment_advice": _l("Payment advice"),
             "closing_report": _l("Closing report"), "customer_review": _l("Customer review"),
             "correspondence": _l("Correspondence"), "other": _l("Other"),
             "disposition_certificate": _l("Disposition certificate")},
    "sort": {"relevance": _l("Relevance"), "date_desc": _l("Newest first"), "date_asc": _l("Oldest first")},
    "facet": {"type": _l("Type"), "customer": _l("Customer"), "year": _l("Year"), "status": _l("Status")},
    "status": {"open": _l("open"), "closed": _l("closed")},
    "reason": {"order_reference_unresolved": _l("the order it cites is not in the archive"),
               "order_customer_mismatch": _l("the order it cites belongs to another customer"),
               "invoice_reference_unresolved": _l("the invoice it cites is not in the archive"),
               "delivery_reference_unresolved": _l("the delivery note it cites is not in the archive"),
               "customer_mismatch": _l("its customer number or VAT id points to another customer"),
               "customer_reference_unresolved": _l("the customer number it carries is not in the archive"),
               "doc_type_disagrees": _l("its content reads as another document type"),
               "low_confidence": _l("its fields were read with low confidence"),
               "invoice_without_order_reference": _l("the invoice cites no order"),
               "delivery_note_without_order": _l("the delivery note belongs to no order"),
               "payment_advice_unmatched": _l("the payment advice settles no invoice")},
    "flag": {"invoice_without_order_reference": _l("Invoice without an order reference"),
             "delivery_note_without_order": _l("Delivery note without an order"),
             "payment_advice_unmatched": _l("Payment advice that matches no invoice"),
             "invoice_without_delivery_note": _l("An invoice but no delivery note"),
             "mixed_currencies": _l("Amounts in more than one currency"),
             "order_total_mismatch": _l("The invoiced total differs from the ordered total"),
             "payment_partial": _l("Partly paid"), "payment_underpaid": _l("Underpaid after the due date"),
             "payment_overpaid": _l("Overpaid")},
    "payment": {"unpaid": _l("unpaid"), "paid": _l("paid"), "partial": _l("partly paid"),
                "underpaid": _l("underpaid"), "overpaid": _l("overpaid")},
    "recon": {"ordered": _l("Ordered"), "delivered": _l("Delivered"), "invoiced": _l("Invoiced"),
              "paid": _l("Paid")},
}


def label_helpers() -> dict[str, Callable[..., Any]]:
    """Fresh for each render: a label is translated once per page however many rows show it."""
    cache: dict[tuple[str, Any], str] = {}

    def helper(kind: str) -> Callable[[Any], Any]:
        def label(code: Any) -> str:
            key = (kind, code)
            if key not in cache:
                cache[key] = str(LABELS[kind].get(code, code))
            return cache[key]
        return label
    return {**{f"{kind}_label": helper(kind) for kind in LABELS}, "percent": percent, "money": money,
            "field_text": field_text, "suggestion": suggestion}


def percent(value: float | None) -> str:
    return "" if value is None else f"{round(value * 100)} %"


def money(amount: str | None, currency: str | None) -> str:
    return "—" if amount is None else f"{amount} {currency or ''}".strip()


def field_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(field_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {field_text(v)}" for k, v in value.items() if v not in (None, "", []))
    return "" if value is None else str(value)


def suggestion(entry: dict[str, Any] | None) -> str:
    """A dossier card's extracted value: with its confidence while nobody has confirmed it."""
    if not entry:
        return "—"
    text = field_text(entry.get("value"))
    confidence = entry.get("confidence")
    if entry.get("confirmed") or confidence is None or confidence >= 1:
        return text
    return f"{text} ({percent(confidence)})"
