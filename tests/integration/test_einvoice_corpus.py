"""Structured parsing against ../shared/corpus. Expected values are read independently in each test (plain lxml
XPath on the corpus files, the corpus EXPECTED.csv and the genkgo JSON decodes), never taken from the parser."""
from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest
from lxml import etree

from archive.extraction.einvoice import from_pdf, parse_xml
from archive.extraction.result import ExtractionError
from tests.conftest import require_corpus

ZUGFERD = "zugferd-corpus"
TRIPLETS = f"{ZUGFERD}/XML-Rechnung"
UBL_NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
UBL_DOC_TYPES = {"Order": "purchase_order", "OrderChange": "purchase_order", "OrderResponse": "order_confirmation",
                 "OrderResponseSimple": "order_confirmation", "OrderCancellation": "correspondence",
                 "DespatchAdvice": "delivery_note", "ReceiptAdvice": "delivery_note",
                 "RemittanceAdvice": "payment_advice"}


@pytest.fixture(scope="module")
def corpus() -> Path:
    return require_corpus()


def corpus_files(pattern: str) -> list[str]:
    from tests.conftest import CORPUS
    return sorted(str(path.relative_to(CORPUS)) for path in CORPUS.glob(pattern)) or [f"(none: {pattern})"]


def plain(document: bytes, path: str) -> str:
    """An independent reading: one XPath over local names, whitespace collapsed."""
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    return " ".join(root.xpath(f"string({path})").split())


def flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {key: item for name, sub in value.items() for key, item in flat(sub, f"{prefix}.{name}").items()}
    if isinstance(value, list):
        out = {f"{prefix}#count": len(value)}
        for index, item in enumerate(value):
            out.update(flat(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def embedded_xml(pdf_path: Path) -> dict[str, bytes]:
    with pikepdf.open(pdf_path) as pdf:
        return {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}


# --- every hybrid PDF in the 'correct' folders yields a parsed invoice ------------------------------------------------

@pytest.mark.parametrize("relative", corpus_files(f"{ZUGFERD}/ZUGFeRDv[12]/correct/**/*.pdf"))
def test_correct_zugferd_pdfs_yield_invoices(corpus, relative):
    path = corpus / relative
    extracted = from_pdf(path)
    assert extracted is not None, relative
    fields = extracted.fields
    assert extracted.doc_type in ("invoice", "credit_note") and extracted.confidence == 1.0
    assert fields["number"] and fields["issue_date"] and fields["grand_total"], fields
    attachment = extracted.details["attachment"]
    assert attachment in observed_attachments(corpus)[relative.removeprefix(f"{ZUGFERD}/")]
    header = "/*/*[local-name()='ExchangedDocument' or local-name()='HeaderExchangedDocument']/*[local-name()='ID']"
    assert fields["number"] == plain(embedded_xml(path)[attachment], header)


def observed_attachments(corpus: Path) -> dict[str, list[str]]:
    with open(corpus / ZUGFERD / "EXPECTED.csv", newline="", encoding="utf-8") as handle:
        return {row["path"]: row["embedded_files_observed_with_pypdf_7.1.1"].split(";")
                for row in csv.DictReader(handle)}


def test_pdf_with_zugferd1_and_2_prefers_2(corpus):
    both = [path for path, names in observed_attachments(corpus).items()
            if "ZUGFeRD-invoice.xml" in names and "factur-x.xml" in names]
    assert both, "the corpus README promises one PDF embedding both versions"
    for relative in both:
        extracted = from_pdf(corpus / ZUGFERD / relative)
        assert extracted.details["attachment"] == "factur-x.xml" and extracted.details["syntax"] == "cii"


# --- the EN16931 / XRechnung triplets agree field by field -------------------------------------------------------

def triplet_cases() -> list[str]:
    return [Path(name).name[: -len(".cii.xml")] for name in corpus_files(f"{TRIPLETS}/CII/*.cii.xml")
            if not Path(name).name.startswith(("not_validating", "(none"))] or ["(none)"]


@pytest.mark.parametrize("case", triplet_cases())
def test_triplet_agrees_field_by_field(corpus, case):
    cii_bytes = (corpus / TRIPLETS / "CII" / f"{case}.cii.xml").read_bytes()
    cii = parse_xml(cii_bytes).as_json()["fields"]
    ubl = parse_xml((corpus / TRIPLETS / "UBL" / f"{case}.ubl.xml").read_bytes()).as_json()["fields"]
    pdf = from_pdf(corpus / TRIPLETS / "FX" / f"{case}.pdf").as_json()["fields"]
    assert flat(cii) == flat(ubl)
    if case.startswith("XRECHNUNG_"):  # the PDF still embeds the 2018 ZUGFeRD 2.2 XML (corpus README)
        cii, pdf = without_dates(cii), without_dates(pdf)
    assert flat(pdf) == flat(cii)
    doc = "/*/*[local-name()='ExchangedDocument']"
    assert cii["number"] == plain(cii_bytes, f"{doc}/*[local-name()='ID']")
    assert len(cii["lines"]) == int(plain(cii_bytes, "count(//*[local-name()='IncludedSupplyChainTradeLineItem'])"))
    grand = plain(cii_bytes, "//*[local-name()='GrandTotalAmount']")
    assert float(cii["grand_total"]) == float(grand)


def without_dates(fields: dict) -> dict:
    stripped = json.loads(re.sub(r"\d{2}\.\d{2}\.\d{4}", "<date>", json.dumps(fields)))
    stripped["issue_date"] = stripped["due_date"] = None
    return stripped


# --- UBL ordering, despatch, receipt and remittance documents --------------------------------------------------------

def root_name(path: Path) -> str | None:
    try:
        return etree.QName(etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
                           .getroot()).localname
    except (OSError, etree.XMLSyntaxError):
        return None


def ubl_business_documents() -> list[str]:
    """The order-to-cash UBL instances of both collections, chosen by their root element."""
    from tests.conftest import CORPUS
    names = (corpus_files("peppol-bis-ordering/examples/**/*.xml") + corpus_files("oasis-ubl-examples/*.xml")
             + corpus_files("peppol-bis-ordering/use-case-examples/**/*.xml"))
    return [name for name in names if root_name(CORPUS / name) in UBL_DOC_TYPES] or ["(none: UBL examples)"]


@pytest.mark.parametrize("relative", ubl_business_documents())
def test_ubl_business_documents_parse_with_ids_and_references(corpus, relative):
    data = (corpus / relative).read_bytes()
    root_name = etree.QName(etree.fromstring(data)).localname
    extracted = parse_xml(data)
    assert extracted.source == "ubl" and extracted.doc_type == UBL_DOC_TYPES[root_name]
    assert extracted.details["root"] == root_name
    assert extracted.fields["number"] == plain(data, "/*/cbc:ID".replace("cbc:", "*[local-name()='") + "']")
    root = etree.fromstring(data)
    order_ids = [" ".join(t.split()) for t in root.xpath("/*/cac:OrderReference/cbc:ID/text()", namespaces=UBL_NS)]
    assert set(order_ids) <= set(extracted.fields["order_references"])
    if root_name in ("OrderResponse", "OrderResponseSimple", "OrderChange", "OrderCancellation",
                     "DespatchAdvice", "ReceiptAdvice"):
        assert order_ids, "these documents always reference their order"
    if root_name == "RemittanceAdvice":
        invoices = root.xpath("//cac:InvoiceDocumentReference/cbc:ID/text()", namespaces=UBL_NS)
        assert invoices and extracted.fields["invoice_references"] == invoices
        assert extracted.fields["payments"]


def test_ubl_examples_cover_every_required_type(corpus):
    roots = {root_name(corpus / name) for name in ubl_business_documents()}
    assert {"Order", "OrderResponse", "DespatchAdvice", "RemittanceAdvice", "ReceiptAdvice"} <= roots


# --- ISO 20022 payment notifications ------------------------------------------------------------------------------

@pytest.mark.parametrize("relative", [name for name in corpus_files("camt-payment-notifications/**/*camt*054*.xml")])
def test_camt054_files_yield_payments(corpus, relative):
    data = (corpus / relative).read_bytes()
    extracted = parse_xml(data)
    assert extracted.doc_type == "payment_advice" and extracted.source == "camt"
    payments = extracted.fields["payments"]
    root = etree.fromstring(data)
    entries = root.xpath("//*[local-name()='Ntry']")
    assert entries and len(payments) >= len(entries)
    assert all(payment["amount"] and payment["currency"] for payment in payments)
    signed = [Decimal(e.xpath("string(*[local-name()='Amt'])"))
              * (-1 if e.xpath("string(*[local-name()='CdtDbtInd'])") == "DBIT" else 1) for e in entries]
    if len(payments) == len(entries):
        assert [Decimal(payment["amount"]) for payment in payments] == signed
    else:  # split into transactions: together they still account for every entry
        assert sum(Decimal(payment["amount"]) for payment in payments) == sum(signed)


@pytest.mark.parametrize("relative", corpus_files("camt-payment-notifications/genkgo-camt/data/camt05[34]*.json"))
def test_camt_payments_match_genkgo_decodes(corpus, relative):
    """genkgo's dump keeps the entries of the last statement only (earlier records are "__RECURSIVITY__")."""
    decoded = json.loads((corpus / relative).read_text())
    data = (corpus / relative).with_suffix(".xml").read_bytes()
    extracted = parse_xml(data)
    expected = [(int(entry["getAmount"]["getAmount"]), entry["getAmount"]["getCurrency"]["getCode"],
                 (entry.get("getBookingDate") or {}).get("0", "")[:10] or None)
                for entry in decoded["getEntries"]]
    got = [(minor(p["amount"]), p["currency"], p["booking_date"]) for p in extracted.fields["payments"]]
    assert len(got) == int(plain(data, "count(//*[local-name()='Ntry'])"))
    assert expected and got[len(got) - len(expected):] == expected


def minor(amount: str) -> int:
    units, _, cents = amount.partition(".")
    sign = -1 if units.startswith("-") else 1
    return sign * (abs(int(units)) * 100 + int((cents + "00")[:2]))


# --- flavours, profiles, out-of-scope formats ---------------------------------------------------------------------

@pytest.mark.parametrize("name, profile, doc_type", [
    ("factur-x-minimum", "MINIMUM", "invoice"), ("factur-x-basicwl", "BASIC WL", "invoice"),
    ("factur-x-basic", "BASIC", "invoice"), ("factur-x-en16931", "EN16931", "invoice"),
    ("factur-x-extended", "EXTENDED", "invoice"), ("zugferd-basic", "BASIC", "invoice"),
    ("zugferd-comfort", "COMFORT", "invoice"), ("zugferd-extended", "EXTENDED", "invoice"),
    ("order-x-basic", "BASIC", "purchase_order"), ("order-x-comfort", "COMFORT", "purchase_order"),
])
def test_akretion_flavours_profiles_and_order_versus_invoice(corpus, name, profile, doc_type):
    data = (corpus / "factur-x-akretion" / "xml" / f"{name}.xml").read_bytes()
    extracted = parse_xml(data)
    assert (extracted.details["profile"], extracted.doc_type) == (profile, doc_type)
    assert extracted.details["syntax"] == ("zugferd1" if name.startswith("zugferd") else
                                           "order-x" if name.startswith("order-x") else "cii")
    doc = "/*/*[local-name()='ExchangedDocument' or local-name()='HeaderExchangedDocument']/*[local-name()='ID']"
    assert extracted.fields["number"] == plain(data, doc)


@pytest.mark.parametrize("relative", corpus_files(f"{ZUGFERD}/fatturaPA/*/valid/*.xml"))
def test_fatturapa_is_out_of_scope(corpus, relative):
    assert parse_xml((corpus / relative).read_bytes()) is None


def test_plain_pdf_invoice_has_no_structured_data(corpus):
    assert from_pdf(corpus / ZUGFERD / "unstructured" / "RE-E-974-Hetzner_2016-01-19_R0005532486.pdf") is None


# --- the official EN16931 examples, and robustness on broken or hostile input -----------------------------------------

@pytest.mark.parametrize("relative", corpus_files("en16931-examples/ubl/examples/*")
                         + corpus_files("en16931-examples/cii/examples/*")
                         + corpus_files("en16931-examples/test/testfiles/*.xml"))
def test_en16931_examples_parse(corpus, relative):
    data = (corpus / relative).read_bytes()
    extracted = parse_xml(data)
    fields = extracted.fields
    assert extracted.doc_type in ("invoice", "credit_note")
    assert fields["issue_date"] and fields["currency"] and fields["grand_total"] and fields["lines"]
    number = "/*/*[local-name()='ID'] | /*/*[local-name()='ExchangedDocument']/*[local-name()='ID']"
    assert fields["number"] == plain(data, number)


def test_zugferd_fail_folders_end_in_a_definite_result(corpus):
    """Invalid e-invoices are parsed, declined (None) or refused with ExtractionError; nothing else escapes."""
    outcomes = {}
    for path in sorted((corpus / ZUGFERD).glob("ZUGFeRDv[12]/fail/**/*.*")):
        try:
            result = from_pdf(path) if path.suffix == ".pdf" else parse_xml(path.read_bytes())
            outcomes[path.name] = "parsed" if result is not None else "none"
        except ExtractionError:
            outcomes[path.name] = "refused"
    assert outcomes and outcomes["factur-x-invalid-xml-encoding-attribute.pdf"] == "refused"


def test_malformed_and_odd_pdfs_never_raise(corpus):
    """from_pdf runs on every filed PDF: damaged ones must give None (the text pipeline judges them), not raise."""
    checked = 0
    for folder in ("qpdf-malformed", "format-corpus", "pypdf-sample-files"):
        for path in sorted((corpus / folder).rglob("*")):
            if path.is_file() and path.suffix not in (".out", ".md", ".txt", ".json", ".csv"):
                assert from_pdf(path) is None, path
                checked += 1
    assert checked > 300
