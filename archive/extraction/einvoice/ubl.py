"""OASIS UBL 2.0-2.3 business documents: invoices, orders and their responses, despatch, receipt and remittance.

One table maps each root element to our document type and to where that document keeps its parties, lines and
totals; the field mapping itself is shared (EN 16931 UBL binding for invoices, the same elements elsewhere).
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from archive.extraction.einvoice import normalise as norm
from archive.extraction.einvoice.cii import CREDIT_TYPES
from archive.extraction.einvoice.tree import find, findall, full_text, local_name, text, texts
from archive.extraction.result import Extracted, Party, blank_fields

NAMESPACE_PREFIX = "urn:oasis:names:specification:ubl:schema:xsd:"


@dataclass(frozen=True)
class Layout:
    doc_type: str
    seller: str
    buyer: str
    lines: str = ""
    quantity: str = "Quantity"
    totals: str = "LegalMonetaryTotal"


_ORDERING = dict(seller="SellerSupplierParty", buyer="BuyerCustomerParty")
_SHIPPING = dict(seller="DespatchSupplierParty|SellerSupplierParty", buyer="DeliveryCustomerParty|BuyerCustomerParty")
_BILLING = dict(seller="AccountingSupplierParty", buyer="AccountingCustomerParty")
LAYOUTS = {
    "Invoice": Layout("invoice", **_BILLING, lines="InvoiceLine", quantity="InvoicedQuantity"),
    "CreditNote": Layout("credit_note", **_BILLING, lines="CreditNoteLine", quantity="CreditedQuantity"),
    "SelfBilledInvoice": Layout("invoice", **_BILLING, lines="InvoiceLine", quantity="InvoicedQuantity"),
    "SelfBilledCreditNote": Layout("credit_note", **_BILLING, lines="CreditNoteLine", quantity="CreditedQuantity"),
    "FreightInvoice": Layout("invoice", **_BILLING, lines="InvoiceLine", quantity="InvoicedQuantity"),
    "DebitNote": Layout("invoice", **_BILLING, lines="DebitNoteLine", quantity="DebitedQuantity",
                        totals="RequestedMonetaryTotal"),
    "Order": Layout("purchase_order", **_ORDERING, lines="OrderLine/LineItem", totals="AnticipatedMonetaryTotal"),
    "OrderChange": Layout("purchase_order", **_ORDERING, lines="OrderLine/LineItem",
                          totals="AnticipatedMonetaryTotal"),
    "OrderResponse": Layout("order_confirmation", **_ORDERING, lines="OrderLine/LineItem"),
    "OrderResponseSimple": Layout("order_confirmation", **_ORDERING),
    "OrderCancellation": Layout("correspondence", **_ORDERING),
    "DespatchAdvice": Layout("delivery_note", **_SHIPPING, lines="DespatchLine", quantity="DeliveredQuantity"),
    "ReceiptAdvice": Layout("delivery_note", **_SHIPPING, lines="ReceiptLine", quantity="ReceivedQuantity"),
    "RemittanceAdvice": Layout("payment_advice", **_BILLING, lines="RemittanceAdviceLine"),
}
ORDER_REFS = "OrderReference/ID|OrderReference/SalesOrderID|OrderDocumentReference/ID"
DELIVERY_REFS = "DespatchDocumentReference/ID|ReceiptDocumentReference/ID"
INVOICE_REFS = ("BillingReference/InvoiceDocumentReference/ID"
                "|RemittanceAdviceLine/BillingReference/InvoiceDocumentReference/ID"
                "|RemittanceAdviceLine/InvoiceDocumentReference/ID")


def is_ubl(root: etree._Element) -> bool:
    namespace = etree.QName(root).namespace or ""
    return namespace.startswith(NAMESPACE_PREFIX) and local_name(root) in LAYOUTS


def parse(root: etree._Element) -> Extracted:
    name = local_name(root)
    layout = LAYOUTS[name]
    type_code = text(root, "InvoiceTypeCode|CreditNoteTypeCode|OrderTypeCode|DespatchAdviceTypeCode")
    fields = blank_fields()
    fields["number"] = text(root, "ID")
    fields["issue_date"] = norm.iso_date(text(root, "IssueDate"))
    fields["due_date"] = norm.iso_date(text(root, "DueDate|PaymentMeans/PaymentDueDate"))
    currency = text(root, "DocumentCurrencyCode|PricingCurrencyCode") or _any_currency(root)
    fields["currency"] = currency
    _totals(fields, root, layout, currency)
    fields["seller"] = party(find(root, _with_party(layout.seller)))
    fields["buyer"] = party(find(root, _with_party(layout.buyer)))
    fields["order_references"] = texts(root, ORDER_REFS)
    fields["delivery_references"] = texts(root, DELIVERY_REFS)
    fields["invoice_references"] = texts(root, INVOICE_REFS)
    fields["payment"] = _payment(root)
    lines = findall(root, layout.lines) if layout.lines else []
    if name == "RemittanceAdvice":
        fields["payments"] = [_remittance(line, fields, currency) for line in lines]
    else:
        fields["lines"] = [row for row in (_line(line, layout.quantity) for line in lines) if any(row.values())]
    return Extracted(doc_type=_doc_type(layout, type_code), source="ubl", fields=fields, confidence=1.0,
                     text=full_text(root), details=_details(root, name, type_code))


def _doc_type(layout: Layout, type_code: str | None) -> str:
    if layout.doc_type == "invoice" and type_code in CREDIT_TYPES:
        return "credit_note"
    return layout.doc_type


def _details(root: etree._Element, name: str, type_code: str | None) -> dict:
    return {
        "syntax": "ubl", "root": name, "namespace": etree.QName(root).namespace,
        "version": text(root, "UBLVersionID"), "customization": text(root, "CustomizationID"),
        "profile": text(root, "ProfileID"), "type_code": type_code,
        "response_code": text(root, "OrderResponseCode|AcceptedIndicator"),
    }


def _with_party(paths: str) -> str:
    return "|".join(f"{path}/Party" for path in paths.split("|"))


def _any_currency(root: etree._Element) -> str | None:
    element = root.find(".//*[@currencyID]")
    return None if element is None else element.get("currencyID")


def _totals(fields: dict, root: etree._Element, layout: Layout, currency: str | None) -> None:
    totals = find(root, layout.totals)
    fields["net_total"] = norm.amount(text(totals, "TaxExclusiveAmount|LineExtensionAmount"))
    # UBL 2.0 has no TaxInclusiveAmount: the payable amount is the grand total there (no prepayment element)
    fields["grand_total"] = norm.amount(text(totals, "TaxInclusiveAmount|PayableAmount")
                                        or text(root, "TotalPaymentAmount"))
    fields["amount_due"] = norm.amount(text(totals, "PayableAmount"))
    amounts = findall(root, "TaxTotal/TaxAmount")
    in_currency = [element for element in amounts if element.get("currencyID") in (None, currency)]
    chosen = (in_currency or amounts)[:1]
    fields["tax_total"] = norm.amount(chosen[0].text) if chosen else None


def party(element: etree._Element | None) -> Party:
    if element is None:
        return Party()
    return Party(name=text(element, "PartyLegalEntity/RegistrationName|PartyName/Name"),
                 vat_id=norm.vat_id(_vat_company_id(element)),
                 id=text(element, "PartyIdentification/ID"))


def _vat_company_id(element: etree._Element) -> str | None:
    for scheme in findall(element, "PartyTaxScheme"):
        kind = " ".join(texts(scheme, "TaxScheme/ID|TaxScheme/TaxTypeCode")).upper()
        if "VAT" in kind or "TVA" in kind:
            value = text(scheme, "CompanyID")
            if value:
                return value
    return None


def _payment(root: etree._Element) -> dict:
    iban = text(root, "PaymentMeans/PayeeFinancialAccount/ID|PaymentMeans/PaymentMandate/PayerFinancialAccount/ID")
    return {"iban": norm.compact_id(iban), "reference": text(root, "PaymentMeans/PaymentID")}


def _line(line: etree._Element, quantity: str) -> dict:
    return {
        "id": text(line, "ID"),
        "description": text(line, "Item/Name|Item/Description"),
        "quantity": norm.quantity(text(line, quantity)),
        "unit_price": norm.amount(text(line, "Price/PriceAmount")),
        "net_amount": norm.amount(text(line, "LineExtensionAmount")),
    }


def _remittance(line: etree._Element, fields: dict, currency: str | None) -> dict:
    paid = text(line, "PaidAmount|BalanceAmount|DebitLineAmount")
    return {
        "amount": norm.amount(paid), "currency": currency,
        "reference": fields["payment"]["reference"], "end_to_end_id": None,
        "invoice_references": texts(line, "BillingReference/InvoiceDocumentReference/ID|InvoiceDocumentReference/ID"),
        "debtor": fields["buyer"].name, "creditor": fields["seller"].name,
        "iban": fields["payment"]["iban"], "booking_date": norm.iso_date(text(line, "PaymentDate")),
    }
