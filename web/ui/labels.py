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
    "reason": {"processing_failed": _l("processing failed"), "low_confidence": _l("unsure extraction")},
    "recon": {"ordered": _l("Ordered"), "delivered": _l("Delivered"), "invoiced": _l("Invoiced"),
              "paid": _l("Paid")},
}


def label_helpers() -> dict[str, Callable[[Any], Any]]:
    def helper(kind: str) -> Callable[[Any], Any]:
        return lambda code: LABELS[kind].get(code, code)
    return {f"{kind}_label": helper(kind) for kind in LABELS}
