"""Missing-information flags: per document (what it lacks) and per order (what the dossier lacks or disagrees on).

Amounts are compared as Decimal in one currency; an order with documents in several currencies is flagged
`mixed_currencies` and its amounts are not compared.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from archive.models import Document
from archive.suggestions import Suggested

DOCUMENT_FLAGS = {
    "invoice_without_order_reference": "the invoice cites no order and is filed under none",
    "delivery_note_without_order": "the delivery note belongs to no order",
    "payment_advice_unmatched": "the payment advice settles no invoice in the archive",
}
INTAKE = ("purchase_order", "customer_order")
ZERO = Decimal("0.00")


def document_flags(document: Document, suggested: Suggested, settles: bool) -> list[str]:
    flags = []
    if document.doc_type == "invoice" and document.order_id is None and not suggested.get("order_references"):
        flags.append("invoice_without_order_reference")
    if document.doc_type == "delivery_note" and document.order_id is None:
        flags.append("delivery_note_without_order")
    if document.doc_type == "payment_advice" and not settles:
        flags.append("payment_advice_unmatched")
    return flags


def order_flags(stages: list[dict[str, Any]], documents: list[Document], suggested: dict[str, Suggested],
                today: date) -> dict[str, Any]:
    by_type: dict[str, list[Suggested]] = {}
    for document in documents:
        by_type.setdefault(document.doc_type, []).append(suggested.get(document.id) or Suggested())
    flags = []
    if by_type.get("invoice") and not by_type.get("delivery_note"):
        flags.append("invoice_without_delivery_note")
    amounts = _amounts(by_type, today)
    flags.extend(amounts.pop("flags"))
    return {"stages_present": [s["stage"] for s in stages if s["present"] and s["stage"] != "other"],
            "stages_missing": [s["stage"] for s in stages if not s["present"] and s["stage"] != "other"],
            "flags": flags, "amounts": amounts}


def _amounts(by_type: dict[str, list[Suggested]], today: date) -> dict[str, Any]:
    currencies = {s.get("currency") for group in by_type.values() for s in group if s.get("currency")}
    ordered = _order_total(by_type)
    invoiced = _sum(s.get("grand_total") for s in by_type.get("invoice", []))
    credited = _sum(s.get("grand_total") for s in by_type.get("credit_note", []))
    due = _sum(s.get("amount_due") or s.get("grand_total") for s in by_type.get("invoice", []))
    received = _sum(_paid(s) for s in by_type.get("payment_advice", []))
    net_invoiced = invoiced - credited if invoiced is not None and credited is not None else invoiced
    net_due = due - credited if due is not None and credited is not None else due
    out: dict[str, Any] = {"currency": next(iter(currencies)) if len(currencies) == 1 else None,
                           "order_total": _text(ordered), "invoiced_total": _text(net_invoiced),
                           "amount_due": _text(net_due), "payments_received": _text(received),
                           "payment_status": None, "flags": []}
    if len(currencies) > 1:
        out["flags"].append("mixed_currencies")
        return out
    if ordered is not None and net_invoiced is not None and ordered != net_invoiced:
        out["flags"].append("order_total_mismatch")
    if net_due is not None:
        status = _payment_status(net_due, received or ZERO, _latest_due(by_type.get("invoice", [])), today)
        out["payment_status"] = status
        if status in ("partial", "underpaid", "overpaid"):
            out["flags"].append(f"payment_{status}")
    return out


def _order_total(by_type: dict[str, list[Suggested]]) -> Decimal | None:
    """The confirmed amount when there is a confirmation, else the ordered one."""
    for doc_type in ("order_confirmation", *INTAKE):
        total = _sum(s.get("grand_total") for s in by_type.get(doc_type, []))
        if total is not None:
            return total
    return None


def _paid(suggested: Suggested) -> Decimal | None:
    payments = suggested.get("payments", [])
    if payments:
        return _sum(p.get("amount") for p in payments)
    return _decimal(suggested.get("amount_due") or suggested.get("grand_total"))


def _payment_status(due: Decimal, received: Decimal, due_date: date | None, today: date) -> str:
    if received == ZERO:
        return "unpaid"
    if received == due:
        return "paid"
    if received > due:
        return "overpaid"
    return "underpaid" if due_date is not None and due_date < today else "partial"


def _latest_due(invoices: list[Suggested]) -> date | None:
    dates = []
    for invoice in invoices:
        try:
            dates.append(date.fromisoformat(invoice.get("due_date")))
        except (TypeError, ValueError):
            continue
    return max(dates) if dates else None


def _sum(values) -> Decimal | None:
    numbers = [d for d in (_decimal(v) for v in values) if d is not None]
    return sum(numbers, ZERO) if numbers else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
