"""Extraction accuracy on the corpus triplets: fields right / fields expected.

    .venv/bin/python bench/einvoice_accuracy.py [-v]

For each case of zugferd-corpus/XML-Rechnung (26: 22 EN16931_*, 4 XRECHNUNG_*), the expected values are read from
the CII file by a second, deliberately naive reader in this script (local-name XPath, no code shared with the
parser). Each rendering (CII XML, UBL XML, Factur-X PDF) is then parsed by archive.extraction.einvoice and every
expected field compared: amounts and quantities as numbers, identifiers without spaces, text with collapsed
whitespace. A field counts as expected when the CII holds a value for it. For the XRECHNUNG_* PDFs the dates are
not expected (the PDFs embed the 2018 XML while the CII/UBL are the 2024 version, see the corpus README).
"""
from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402

from archive.extraction.einvoice import from_pdf, parse_xml  # noqa: E402

CORPUS = Path(os.environ.get("ARCHIVE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
TRIPLETS = CORPUS / "zugferd-corpus" / "XML-Rechnung"
HEADER = {
    "number": "/*/*[local-name()='ExchangedDocument']/*[local-name()='ID']",
    "issue_date": "/*/*[local-name()='ExchangedDocument']/*[local-name()='IssueDateTime']/*",
    "due_date": "//*[local-name()='DueDateDateTime']/*",
    "currency": "//*[local-name()='InvoiceCurrencyCode']",
    "net_total": "//*[local-name()='TaxBasisTotalAmount']",
    "grand_total": "//*[local-name()='GrandTotalAmount']",
    "amount_due": "//*[local-name()='DuePayableAmount']",
    "seller.name": "//*[local-name()='SellerTradeParty']/*[local-name()='Name']",
    "seller.vat_id": "//*[local-name()='SellerTradeParty']//*[local-name()='ID'][@schemeID='VA']",
    "buyer.name": "//*[local-name()='BuyerTradeParty']/*[local-name()='Name']",
    "buyer.vat_id": "//*[local-name()='BuyerTradeParty']//*[local-name()='ID'][@schemeID='VA']",
    "payment.iban": "//*[local-name()='PayeePartyCreditorFinancialAccount']/*[local-name()='IBANID']",
    "payment.reference": "//*[local-name()='PaymentReference']",
}
LINE = {
    "id": "*[local-name()='AssociatedDocumentLineDocument']/*[local-name()='LineID']",
    "description": "*[local-name()='SpecifiedTradeProduct']/*[local-name()='Name']",
    "quantity": ".//*[local-name()='BilledQuantity']",
    "unit_price": ".//*[local-name()='NetPriceProductTradePrice']/*[local-name()='ChargeAmount']",
    "net_amount": ".//*[local-name()='LineTotalAmount']",
}
NUMERIC = {"net_total", "tax_total", "grand_total", "amount_due", "quantity", "unit_price", "net_amount"}


def first(node, path: str) -> str | None:
    found = node.xpath(path)
    value = " ".join(found[0].text.split()) if found and found[0].text else ""
    return value or None


def expected_from_cii(data: bytes) -> dict[str, str]:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    values = {name: first(root, path) for name, path in HEADER.items()}
    currency = values["currency"]
    taxes = root.xpath("//*[local-name()='TaxTotalAmount']")
    chosen = [t for t in taxes if t.get("currencyID") in (None, currency)] or taxes
    values["tax_total"] = chosen[0].text.strip() if chosen else None
    for key in ("issue_date", "due_date"):
        if values[key]:
            values[key] = f"{values[key][:4]}-{values[key][4:6]}-{values[key][6:8]}"
    values["order_references"] = first(root, "//*[local-name()='ApplicableHeaderTradeAgreement']/"
                                             "*[local-name()='BuyerOrderReferencedDocument']/*")
    items = root.xpath("//*[local-name()='IncludedSupplyChainTradeLineItem']")
    values["lines"] = str(len(items))
    for index, item in enumerate(items):
        for name, path in LINE.items():
            values[f"lines[{index}].{name}"] = first(item, path)
    return {key: value for key, value in values.items() if value is not None}


def actual(fields: dict, key: str):
    if key == "lines":
        return str(len(fields["lines"]))
    if key == "order_references":
        return fields["order_references"][0] if fields["order_references"] else None
    if key.startswith("lines["):
        index, name = key[6:].split("].")
        lines = fields["lines"]
        return lines[int(index)][name] if int(index) < len(lines) else None
    value = fields
    for part in key.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def same(key: str, expected: str, got) -> bool:
    if got is None:
        return False
    if key.split(".")[-1] in NUMERIC:
        return Decimal(expected) == Decimal(got)
    if key.endswith(("vat_id", "iban")):
        return expected.replace(" ", "").upper() == got
    return expected == got


def main() -> int:
    verbose = "-v" in sys.argv
    totals = {"cii": [0, 0], "ubl": [0, 0], "pdf": [0, 0]}
    cases = sorted(p.name[:-8] for p in TRIPLETS.glob("CII/*.cii.xml") if not p.name.startswith("not_"))
    for case in cases:
        expected = expected_from_cii((TRIPLETS / "CII" / f"{case}.cii.xml").read_bytes())
        renderings = {"cii": parse_xml((TRIPLETS / "CII" / f"{case}.cii.xml").read_bytes()),
                      "ubl": parse_xml((TRIPLETS / "UBL" / f"{case}.ubl.xml").read_bytes()),
                      "pdf": from_pdf(TRIPLETS / "FX" / f"{case}.pdf")}
        for kind, extracted in renderings.items():
            for key, value in expected.items():
                if kind == "pdf" and case.startswith("XRECHNUNG_") and key in ("issue_date", "due_date",
                                                                               "order_references"):
                    continue
                got = actual(extracted.fields, key) if extracted else None
                totals[kind][1] += 1
                if same(key, value, got):
                    totals[kind][0] += 1
                elif verbose:
                    print(f"  {case} [{kind}] {key}: expected {value!r}, got {got!r}")
    right = sum(r for r, _ in totals.values())
    expected_count = sum(e for _, e in totals.values())
    print(f"{len(cases)} triplet cases")
    for kind, (ok, count) in totals.items():
        print(f"  {kind:4} {ok}/{count} fields right ({100 * ok / count:.2f} %)")
    print(f"  all  {right}/{expected_count} fields right ({100 * right / expected_count:.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
