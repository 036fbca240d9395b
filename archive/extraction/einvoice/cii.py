"""UN/CEFACT CII: Factur-X / ZUGFeRD 2.x / XRechnung CII (D16B), ZUGFeRD 1 (D13B) and Order-X (SCRDM CIO).

The three share their business vocabulary; ZUGFeRD 1 names its containers differently ("...SupplyChainTrade..."),
so every container path lists the 2.x name first and the 1.0 name second.
"""
from __future__ import annotations

from lxml import etree

from archive.extraction.einvoice import normalise as norm
from archive.extraction.einvoice.tree import find, findall, full_text, local_name, text, texts
from archive.extraction.result import Extracted, Party, blank_fields

ROOTS = {
    "CrossIndustryInvoice": "cii",
    "CrossIndustryDocument": "zugferd1",
    "SCRDMCCBDACIOMessageStructure": "order-x",
}
DRAFT_NAMESPACE = "urn:un:unece:uncefact:data:standard:CBFBUY:"  # ZUGFeRD 1.0 release candidate (2013/14)
CREDIT_TYPES = {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
ORDER_TYPES = {"220": "purchase_order", "230": "purchase_order", "231": "order_confirmation"}

DOC = "ExchangedDocument|HeaderExchangedDocument"
TX = "SupplyChainTradeTransaction|SpecifiedSupplyChainTradeTransaction"
AGREEMENT = "ApplicableHeaderTradeAgreement|ApplicableSupplyChainTradeAgreement"
DELIVERY = "ApplicableHeaderTradeDelivery|ApplicableSupplyChainTradeDelivery"
SETTLEMENT = "ApplicableHeaderTradeSettlement|ApplicableSupplyChainTradeSettlement"
SUMMATION = "SpecifiedTradeSettlementHeaderMonetarySummation|SpecifiedTradeSettlementMonetarySummation"
LINE_PRICE = ("SpecifiedLineTradeAgreement/NetPriceProductTradePrice/ChargeAmount"
              "|SpecifiedSupplyChainTradeAgreement/NetPriceProductTradePrice/ChargeAmount")
LINE_QUANTITY = ("SpecifiedLineTradeDelivery/BilledQuantity|SpecifiedSupplyChainTradeDelivery/BilledQuantity"
                 "|SpecifiedLineTradeDelivery/RequestedQuantity|SpecifiedLineTradeDelivery/AgreedQuantity")
LINE_NET = ("SpecifiedLineTradeSettlement/SpecifiedTradeSettlementLineMonetarySummation/LineTotalAmount"
            "|SpecifiedSupplyChainTradeSettlement/SpecifiedTradeSettlementMonetarySummation/LineTotalAmount")


def flavour_of(root: etree._Element) -> str | None:
    name = local_name(root)
    if name == "Invoice" and (etree.QName(root).namespace or "").startswith(DRAFT_NAMESPACE):
        return "zugferd1"
    return ROOTS.get(name)


def parse(root: etree._Element) -> Extracted:
    flavour = flavour_of(root)
    doc, tx = find(root, DOC), find(root, TX)
    agreement, delivery, settlement = find(tx, AGREEMENT), find(tx, DELIVERY), find(tx, SETTLEMENT)
    type_code = text(doc, "TypeCode")
    fields = blank_fields()
    fields["number"] = text(doc, "ID")
    fields["issue_date"] = _date(find(doc, "IssueDateTime/DateTimeString|IssueDateTime"))
    fields["due_date"] = _date(find(settlement, "SpecifiedTradePaymentTerms/DueDateDateTime/DateTimeString"
                                            "|SpecifiedTradePaymentTerms/DueDateDateTime"))
    currency = text(settlement, "InvoiceCurrencyCode|OrderCurrencyCode")
    fields["currency"] = currency
    _totals(fields, find(settlement, SUMMATION), currency)
    fields["seller"] = _party(find(agreement, "SellerTradeParty"))
    fields["buyer"] = _party(find(agreement, "BuyerTradeParty"))
    fields["order_references"] = texts(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID"
                                                  "|SellerOrderReferencedDocument/IssuerAssignedID")
    if flavour == "order-x":  # an order names itself as BuyerOrderReferencedDocument: not a reference to follow
        fields["order_references"] = [ref for ref in fields["order_references"] if ref != fields["number"]]
    fields["delivery_references"] = texts(delivery, "DespatchAdviceReferencedDocument/IssuerAssignedID"
                                                    "|ReceivingAdviceReferencedDocument/IssuerAssignedID")
    fields["invoice_references"] = texts(settlement, "InvoiceReferencedDocument/IssuerAssignedID")
    fields["payment"] = _payment(settlement)
    rows = (_line(item) for item in findall(tx, "IncludedSupplyChainTradeLineItem"))
    fields["lines"] = [row for row in rows if any(row.values())]  # note-only lines carry no item
    guideline = text(root, "ExchangedDocumentContext/GuidelineSpecifiedDocumentContextParameter/ID"
                           "|SpecifiedExchangedDocumentContext/GuidelineSpecifiedDocumentContextParameter/ID")
    details = {"syntax": flavour, "root": local_name(root), "namespace": etree.QName(root).namespace,
               "type_code": type_code, "guideline": guideline, "profile": profile(guideline)}
    return Extracted(doc_type=_doc_type(flavour, type_code), source="cii", fields=fields, confidence=1.0,
                     text=full_text(root), details=details)


def _doc_type(flavour: str, type_code: str | None) -> str:
    if flavour == "order-x":
        return ORDER_TYPES.get(type_code or "220", "purchase_order")
    return "credit_note" if type_code in CREDIT_TYPES else "invoice"


def profile(guideline: str | None) -> str | None:
    """MINIMUM, BASIC WL, BASIC, EN16931 (ZUGFeRD 1: COMFORT), EXTENDED, XRECHNUNG from the guideline URN."""
    if not guideline:
        return None
    urn = guideline.lower()
    for token, name in (("xrechnung", "XRECHNUNG"), ("extended", "EXTENDED"), ("basicwl", "BASIC WL"),
                        ("basic-wl", "BASIC WL"), ("basic", "BASIC"), ("minimum", "MINIMUM"),
                        ("comfort", "COMFORT"), ("en16931", "EN16931")):
        if token in urn:
            return name
    return None


def _date(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return norm.cii_date(element.text, element.get("format"))


def _totals(fields: dict, summation: etree._Element | None, currency: str | None) -> None:
    fields["net_total"] = norm.amount(text(summation, "TaxBasisTotalAmount"))
    fields["tax_total"] = norm.amount(_in_currency(findall(summation, "TaxTotalAmount"), currency))
    fields["grand_total"] = norm.amount(text(summation, "GrandTotalAmount"))
    fields["amount_due"] = norm.amount(text(summation, "DuePayableAmount"))


def _in_currency(elements: list[etree._Element], currency: str | None) -> str | None:
    """The amount stated in the document currency (a second TaxTotalAmount may be in the VAT accounting one)."""
    for element in elements:
        if currency is None or element.get("currencyID") in (None, currency):
            return element.text
    return elements[0].text if elements else None


def _party(element: etree._Element | None) -> Party:
    if element is None:
        return Party()
    return Party(name=text(element, "Name"),
                 vat_id=norm.vat_id(text(element, "SpecifiedTaxRegistration/ID[@schemeID='VA']")),
                 id=text(element, "GlobalID|ID"))


def _payment(settlement: etree._Element | None) -> dict:
    iban = text(settlement, "SpecifiedTradeSettlementPaymentMeans/PayeePartyCreditorFinancialAccount/IBANID"
                            "|SpecifiedTradeSettlementPaymentMeans/PayeePartyCreditorFinancialAccount/ProprietaryID"
                            "|SpecifiedTradeSettlementPaymentMeans/PayerPartyDebtorFinancialAccount/IBANID")
    return {"iban": norm.compact_id(iban), "reference": text(settlement, "PaymentReference")}


def _line(item: etree._Element) -> dict:
    return {
        "id": text(item, "AssociatedDocumentLineDocument/LineID"),
        "description": text(item, "SpecifiedTradeProduct/Name"),
        "quantity": norm.quantity(text(item, LINE_QUANTITY)),
        "unit_price": norm.amount(text(item, LINE_PRICE)),
        "net_amount": norm.amount(text(item, LINE_NET)),
    }
