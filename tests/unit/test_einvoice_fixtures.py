"""Structured parsing on hand-written fixtures: runs without the corpus."""
import io
from pathlib import Path

import pikepdf
import pytest

from archive.extraction.einvoice import from_pdf, parse_xml
from archive.extraction.result import FIELD_KEYS, Party

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "einvoice"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def pdf_with(attachments: dict[str, bytes], associated_only: bool = False) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    specs = []
    for name, data in attachments.items():
        spec = pikepdf.AttachedFileSpec(pdf, data, filename=name, mime_type="text/xml")
        if associated_only:
            specs.append(spec.obj)
        else:
            pdf.attachments[name] = spec
    if specs:
        pdf.Root.AF = pikepdf.Array(specs)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_cii_fixture_fields():
    extracted = parse_xml(fixture("invoice-cii.xml"))
    fields = extracted.fields
    assert (extracted.doc_type, extracted.source, extracted.confidence) == ("invoice", "cii", 1.0)
    assert extracted.details["profile"] == "EXTENDED"
    assert set(FIELD_KEYS) <= set(fields)
    assert fields["number"] == "FA-2026-0042"
    assert (fields["issue_date"], fields["due_date"]) == ("2026-10-15", "2026-11-14")
    assert (fields["net_total"], fields["tax_total"], fields["grand_total"], fields["amount_due"]) == (
        "123.45", "24.69", "148.14", "100.00")
    assert fields["seller"] == Party(name="Visserie Dupont SARL", vat_id="FR32123456789", id="SUP-77")
    assert fields["buyer"].vat_id == "DE123456789"
    assert fields["order_references"] == ["PO-2026-318"]
    assert fields["delivery_references"] == ["BL-5521"]
    assert fields["payment"] == {"iban": "FR7630006000011234567890189", "reference": "RF18539007547034"}
    assert fields["lines"][0] == {"id": "1", "description": "Palette de vis inox", "quantity": "8",
                                  "unit_price": "12.50", "net_amount": "100.00"}
    assert "Visserie Dupont SARL" in extracted.text


def test_cii_and_ubl_fixtures_give_identical_fields():
    cii, ubl = parse_xml(fixture("invoice-cii.xml")), parse_xml(fixture("invoice-ubl.xml"))
    assert ubl.source == "ubl" and ubl.doc_type == "invoice"
    assert cii.as_json()["fields"] == ubl.as_json()["fields"]


def test_credit_note_type_code_gives_credit_note():
    data = fixture("invoice-cii.xml").replace(b"<ram:TypeCode>380<", b"<ram:TypeCode>381<")
    assert parse_xml(data).doc_type == "credit_note"


def test_camt054_fixture_yields_signed_payments_and_splits_batches():
    extracted = parse_xml(fixture("camt054.xml"))
    assert (extracted.doc_type, extracted.source) == ("payment_advice", "camt")
    credit, debit, *batch = extracted.fields["payments"]
    assert credit == {"amount": "100.00", "currency": "EUR", "reference": "RF18539007547034",
                      "end_to_end_id": "E2E-HUBER-42", "invoice_references": ["FA-2026-0042"],
                      "debtor": "Maschinenbau Huber GmbH", "creditor": "Visserie Dupont SARL",
                      "iban": "DE89370400440532013000", "booking_date": "2026-11-09"}
    assert (debit["amount"], debit["booking_date"]) == ("-7.50", "2026-11-09")
    assert [(p["amount"], p["reference"]) for p in batch] == [("10.00", "RF71000001"),
                                                              ("20.00", "Rechnung FA-2026-0050")]
    assert extracted.fields["invoice_references"] == ["FA-2026-0042"]
    assert extracted.fields["payment"]["iban"] == "FR7630006000011234567890189"


def test_unknown_xml_and_non_xml_are_not_ours():
    assert parse_xml(b"<FatturaElettronica xmlns='http://ivaservizi.agenziaentrate.gov.it'/>") is None
    assert parse_xml(b"%PDF-1.7 not xml") is None
    assert parse_xml(b"<broken><unclosed></broken>") is None


def test_broken_xml_of_a_known_kind_is_an_error():
    from archive.extraction.result import ExtractionError
    with pytest.raises(ExtractionError):
        parse_xml(fixture("invoice-cii.xml")[:-200])


def test_from_pdf_reads_embedded_factur_x_from_name_tree():
    extracted = from_pdf(pdf_with({"factur-x.xml": fixture("invoice-cii.xml")}))
    assert extracted.fields["number"] == "FA-2026-0042"
    assert extracted.details["attachment"] == "factur-x.xml"


def test_from_pdf_reads_associated_files_only():
    extracted = from_pdf(pdf_with({"xrechnung.xml": fixture("invoice-ubl.xml")}, associated_only=True))
    assert extracted.source == "ubl" and extracted.fields["grand_total"] == "148.14"


def test_from_pdf_prefers_zugferd2_over_zugferd1():
    zugferd1 = (b'<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0" '
                b'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12">'
                b'<rsm:HeaderExchangedDocument><ram:ID>OLD-1</ram:ID></rsm:HeaderExchangedDocument>'
                b'</rsm:CrossIndustryDocument>')
    extracted = from_pdf(pdf_with({"ZUGFeRD-invoice.xml": zugferd1, "zugferd-invoice.xml": fixture("invoice-cii.xml")}))
    assert extracted.fields["number"] == "FA-2026-0042"
    assert from_pdf(pdf_with({"ZUGFeRD-invoice.xml": zugferd1})).details["syntax"] == "zugferd1"


def test_from_pdf_without_xml_or_unreadable_is_none():
    assert from_pdf(pdf_with({})) is None
    assert from_pdf(b"%PDF-1.4 garbage") is None


def test_remt001_fixture_yields_one_payment_for_two_invoices():
    extracted = parse_xml(fixture("remt001.xml"))
    assert (extracted.doc_type, extracted.details["message"]) == ("payment_advice", "remt.001.001.04")
    (payment,) = extracted.fields["payments"]
    assert payment["amount"] == "250.00" and payment["end_to_end_id"] == "E2E-HUBER-42"
    assert payment["invoice_references"] == ["FA-2026-0042", "FA-2026-0043"]
    assert (payment["debtor"], payment["creditor"]) == ("Maschinenbau Huber GmbH", "Visserie Dupont SARL")
    assert extracted.fields["invoice_references"] == ["FA-2026-0042", "FA-2026-0043"]


def test_ubl_despatch_advice_fixture_is_a_delivery_note_for_its_order():
    extracted = parse_xml(fixture("despatch-ubl.xml"))
    assert (extracted.doc_type, extracted.details["root"], extracted.details["version"]) == (
        "delivery_note", "DespatchAdvice", "2.1")
    assert extracted.fields["number"] == "BL-5521"
    assert extracted.fields["order_references"] == ["PO-2026-318"]
    assert extracted.fields["seller"].name == "Visserie Dupont"
    assert extracted.fields["lines"] == [{"id": "1", "description": "Palette de vis inox", "quantity": "8",
                                          "unit_price": None, "net_amount": None}]


def test_order_x_is_an_order_not_an_invoice_and_does_not_reference_itself():
    order = (fixture("invoice-cii.xml")
             .replace(b"CrossIndustryInvoice:100", b"SCRDMCCBDACIOMessageStructure:100")
             .replace(b"rsm:CrossIndustryInvoice", b"rsm:SCRDMCCBDACIOMessageStructure")
             .replace(b"<ram:TypeCode>380<", b"<ram:TypeCode>220<")
             .replace(b"PO-2026-318", b"FA-2026-0042"))
    extracted = parse_xml(order)
    assert (extracted.doc_type, extracted.details["syntax"]) == ("purchase_order", "order-x")
    assert extracted.fields["order_references"] == []
    response = parse_xml(order.replace(b"<ram:TypeCode>220<", b"<ram:TypeCode>231<"))
    assert response.doc_type == "order_confirmation"


def test_from_pdf_ignores_an_attachment_that_inflates_past_the_cap(monkeypatch):
    from archive.extraction.einvoice import pdf as pdf_module
    padded = fixture("invoice-cii.xml").replace(b"<rsm:ExchangedDocument>", b"<!--" + b" " * 200_000 + b"-->"
                                                b"<rsm:ExchangedDocument>", 1)
    pdf = pikepdf.open(io.BytesIO(pdf_with({"factur-x.xml": padded})))
    stream = pdf.attachments["factur-x.xml"].obj.EF.F
    if "/Params" in stream:
        del stream["/Params"]  # no declared size: only the inflation cap can stop it
    out = io.BytesIO()
    pdf.save(out, compress_streams=True)
    assert from_pdf(out.getvalue()).fields["number"] == "FA-2026-0042"
    monkeypatch.setattr(pdf_module, "MAX_ATTACHMENT", 100_000)
    assert from_pdf(out.getvalue()) is None


def test_peppol_sbdh_envelope_is_unwrapped():
    ubl = fixture("invoice-ubl.xml").split(b"?>", 1)[1]
    envelope = (b'<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader">'
                b"<StandardBusinessDocumentHeader><HeaderVersion>1.0</HeaderVersion></StandardBusinessDocumentHeader>"
                + ubl + b"</StandardBusinessDocument>")
    extracted = parse_xml(envelope)
    assert extracted.details["root"] == "Invoice" and extracted.fields["number"] == "FA-2026-0042"
