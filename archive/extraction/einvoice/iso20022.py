"""ISO 20022 cash management: camt.052/053/054 account reports, statements and debit/credit notifications, and
remt.001 remittance advices. Each becomes a payment advice whose `payments` lists the booked entries.

One payment per booked entry, or per transaction when a batch entry lists transactions whose amounts add up to it.
`amount` is signed (a debit is negative), `iban` is the counterparty's account (the debtor's for a
credit, the creditor's for a debit), `reference` the creditor reference (structured, else the unstructured
remittance text), `invoice_references` the referenced document numbers. The reporting account's own IBAN is
`fields.payment.iban`.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from archive.extraction.einvoice import normalise as norm
from archive.extraction.einvoice.tree import find, findall, full_text, local_name, text, texts
from archive.extraction.result import Extracted, blank_fields

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
MESSAGES = {"BkToCstmrAcctRpt": "Rpt", "BkToCstmrStmt": "Stmt", "BkToCstmrDbtCdtNtfctn": "Ntfctn"}
REMITTANCE = "RmtAdvc"


def message_type(root: etree._Element) -> str | None:
    """'camt.054.001.08' for a camt/remt document we read, else None (pain.001, pacs... are not advices)."""
    namespace = etree.QName(root).namespace or ""
    if local_name(root) != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        return None
    kind = namespace[len(NAMESPACE_PREFIX):]
    return kind if kind.startswith(("camt.052", "camt.053", "camt.054", "remt.001")) else None


def _message_name(message: etree._Element) -> str:
    """camt version 1 names its messages with a suffix: BkToCstmrStmtV01."""
    name = local_name(message)
    return name[:-3] if len(name) > 3 and name[-3] == "V" and name[-2:].isdigit() else name


def parse(root: etree._Element, kind: str) -> Extracted | None:
    message = root[0] if len(root) else None
    if message is None:
        return None
    name = _message_name(message)
    fields = blank_fields()
    fields["issue_date"] = norm.iso_date(text(message, "GrpHdr/CreDtTm"))
    if name == REMITTANCE:
        fields["number"] = text(message, "GrpHdr/MsgId")
        fields["payments"] = [_remittance(info) for info in findall(message, "RmtInf")]
    elif name in MESSAGES:
        report = MESSAGES[name]
        fields["number"] = text(message, f"{report}/Id") or text(message, "GrpHdr/MsgId")
        fields["payments"] = [payment for part in findall(message, report) for entry in findall(part, "Ntry")
                              for payment in _entry_payments(entry)]
        fields["payment"] = {"iban": norm.compact_id(text(message, f"{report}/Acct/Id/IBAN")), "reference": None}
        fields["currency"] = text(message, f"{report}/Acct/Ccy")
    else:
        return None
    payments = fields["payments"]
    fields["currency"] = fields["currency"] or next((p["currency"] for p in payments if p["currency"]), None)
    fields["invoice_references"] = _unique(ref for p in payments for ref in p["invoice_references"])
    details = {"syntax": "iso20022", "root": local_name(message), "message": kind, "entries": len(payments)}
    return Extracted(doc_type="payment_advice", source="camt", fields=fields, confidence=1.0,
                     text=full_text(root), details=details)


def _unique(values) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _entry_payments(entry: etree._Element) -> list[dict]:
    """One payment per transaction when the entry's transactions carry amounts adding up to it (a batch of
    customer payments, e.g. QR/ESR credits), else one payment for the whole entry."""
    transactions = findall(entry, "NtryDtls/TxDtls|NtryDtls/Btch/TxDtls")
    whole = find(entry, "Amt")
    parts = [find(tx, "Amt|AmtDtls/TxAmt/Amt") for tx in transactions]
    if len(transactions) > 1 and whole is not None and all(part is not None for part in parts):
        if sum(_decimal(part) for part in parts) == _decimal(whole):
            return [_payment(entry, [tx], part, text(tx, "CdtDbtInd")) for tx, part in zip(transactions, parts)]
    return [_payment(entry, transactions, whole, None)]


def _decimal(element: etree._Element) -> Decimal:
    try:
        return Decimal((element.text or "").strip())
    except InvalidOperation:
        return Decimal("NaN")


def _payment(entry: etree._Element, transactions: list[etree._Element], amount: etree._Element | None,
             indicator: str | None) -> dict:
    """`indicator`: the transaction's own credit/debit mark when the entry is split, else the entry's applies."""
    debit = (indicator or text(entry, "CdtDbtInd")) == "DBIT"
    value = amount.text if amount is not None else None
    counterparty_account = "RltdPties/CdtrAcct/Id/IBAN" if debit else "RltdPties/DbtrAcct/Id/IBAN"
    return {
        "amount": norm.negate(value) if debit else norm.amount(value),
        "currency": amount.get("Ccy") if amount is not None else None,
        "reference": _first(transactions, "RmtInf/Strd/CdtrRefInf/Ref|RmtInf/Ustrd"),
        "end_to_end_id": _first(transactions, "Refs/EndToEndId"),
        "invoice_references": _unique(ref for tx in transactions for ref in texts(tx, "RmtInf/Strd/RfrdDocInf/Nb")),
        "debtor": _first(transactions, "RltdPties/Dbtr/Nm|RltdPties/Dbtr/Pty/Nm"),
        "creditor": _first(transactions, "RltdPties/Cdtr/Nm|RltdPties/Cdtr/Pty/Nm"),
        "iban": norm.compact_id(_first(transactions, counterparty_account)),
        "booking_date": norm.iso_date(text(entry, "BookgDt/Dt|BookgDt/DtTm")),
    }


def _first(elements: list[etree._Element], paths: str) -> str | None:
    for element in elements:
        value = text(element, paths)
        if value is not None and value != "NOTPROVIDED":
            return value
    return None


def _remittance(info: etree._Element) -> dict:
    original = find(info, "OrgnlPmtInf")
    amount_element = find(original, "Amt/InstdAmt|Amt/EqvtAmt/Amt") if original is not None else None
    return {
        "amount": norm.amount(amount_element.text) if amount_element is not None else None,
        "currency": amount_element.get("Ccy") if amount_element is not None else None,
        "reference": text(info, "Strd/CdtrRefInf/Ref|Ustrd|RmtId"),
        "end_to_end_id": text(original, "Refs/EndToEndId"),
        "invoice_references": texts(info, "Strd/RfrdDocInf/Nb"),
        "debtor": text(original, "Dbtr/Nm|Dbtr/Pty/Nm"),
        "creditor": text(original, "Cdtr/Nm|Cdtr/Pty/Nm"),
        "iban": norm.compact_id(text(original, "CdtrAcct/Id/IBAN")),
        "booking_date": norm.iso_date(text(original, "ReqdExctnDt/Dt|ReqdExctnDt")),
    }
