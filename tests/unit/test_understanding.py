"""Classification and field extraction of unstructured documents (fr/de/en), and the check digits behind them."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from archive.extraction.result import Extracted, Party
from archive.understanding import understand
from archive.understanding.classify import classify
from archive.understanding.validators import iban_valid, vat_status
from archive.understanding.values import find_dates, parse_amount
from tests.fixtures.business_docs import DOC_TYPES, LANGS, generate

FR_INVOICE = """ACME SARL
12 rue de la Paix, 75002 Paris
TVA intracommunautaire : FR 40 303 265 045

FACTURE N° F-2026-001
Date : 12/03/2026
Date d'échéance : 11 avril 2026
Votre commande : PO-4711 du 01/03/2026
Bon de livraison n° BL-77
N° client : C-1042
Votre n° TVA : DE136695976

Désignation   Qté   PU   Montant
Vis M4         100   1,20   120,00
Total HT                    1 000,00 EUR
TVA 20 %                      200,00 EUR
Total TTC                   1 200,00 EUR
IBAN : FR14 2004 1010 0505 0001 3M02 606
"""
DE_DELIVERY = """Muster Technik GmbH · Hauptstraße 5 · 80331 München
LIEFERSCHEIN
Lieferschein-Nr.: LS-2026-0815
Lieferdatum: 3. März 2026
Ihre Bestellung Nr. 4711 vom 01.03.2026
Kundennummer: 10042
Rechnungsadresse: Beispiel AG, Berlin

Pos  Menge  Artikel
1    10     Schrauben M4
"""
EN_PAYMENT = """Globex Ltd
REMITTANCE ADVICE
Date: March 20, 2026
We have paid the following invoices:
Invoice no. INV-2026-0042        1,234.56
Invoice no. INV-2026-0043          100.00
Amount paid                      1,334.56 GBP
Payment reference: GLX-PAY-991
"""
SAMPLES = [
    ("fr", "FACTURE\nFacture n° F-1\nTotal TTC 100,00 EUR", "invoice"),
    ("fr", "Société X\nAVOIR N° AV-12\nsur facture n° F-1", "credit_note"),
    ("fr", "BON DE LIVRAISON\nBL n° 55\nVotre commande 4711", "delivery_note"),
    ("fr", "CONFIRMATION DE COMMANDE\nNous confirmons votre commande n° 4711", "order_confirmation"),
    ("fr", "Avis de paiement\nNous avons réglé la facture F-1", "payment_advice"),
    ("fr", "BON DE COMMANDE N° PO-1\nVeuillez livrer", "purchase_order"),
    ("fr", "CONTRAT DE FOURNITURE\nEntre les soussignés", "contract"),
    ("de", "Rechnung\nRechnungsnummer: RE-1\nZahlbar bis 1.4.2026", "invoice"),
    ("de", "GUTSCHRIFT Nr. G-1\nzu Rechnung RE-1", "credit_note"),
    ("de", "Lieferschein\nIhre Bestellung 4711\nRechnungsadresse: X", "delivery_note"),
    ("de", "Auftragsbestätigung AB-1\nzu Ihrer Bestellung 4711", "order_confirmation"),
    ("de", "Zahlungsavis\nWir haben die Rechnung RE-1 überwiesen", "payment_advice"),
    ("de", "Bestellung Nr. 4711\nBitte liefern Sie", "purchase_order"),
    ("de", "Rahmenvertrag\nzwischen den Parteien", "contract"),
    ("en", "INVOICE\nInvoice number: INV-1\nDue date: April 1, 2026", "invoice"),
    ("en", "Credit Note CN-1\nagainst invoice INV-1", "credit_note"),
    ("en", "Delivery Note DN-1\nYour order 4711", "delivery_note"),
    ("en", "Order Confirmation\nThank you for your order 4711", "order_confirmation"),
    ("en", "Payment Advice\nInvoice INV-1 paid", "payment_advice"),
    ("en", "PURCHASE ORDER PO-1\nPlease deliver", "purchase_order"),
    ("en", "Supply Agreement\nThe parties agree", "contract"),
]


def read(text: str) -> Extracted:
    return understand(Extracted(None, "text", {}, None, text, text.split("\f")))


@pytest.mark.parametrize("lang,text,expected", SAMPLES, ids=[f"{s[0]}-{s[2]}" for s in SAMPLES])
def test_each_type_is_recognised_in_each_language(lang, text, expected):
    result = classify(text.split("\f"))
    assert result.doc_type == expected, result.scores
    assert 0.5 <= result.confidence <= 1.0


def test_the_title_outweighs_words_in_the_body():
    """A delivery note that mentions the invoice and the order several times is still a delivery note."""
    text = ("LIEFERSCHEIN\n" + "\n" * 20 + "Rechnung folgt separat. Bestellung komplett. Rechnung per Post.\n"
            "Die Rechnung erhalten Sie mit der nächsten Bestellung.")
    result = classify([text])
    assert result.doc_type == "delivery_note"
    assert result.scores["invoice"] > 0


def test_confidence_is_lower_when_two_types_compete():
    clear = classify(["FACTURE\nFacture n° F-1"])
    mixed = classify(["Facture et bon de livraison\nFacture n° F-1\nBon de livraison n° BL-1"])
    assert mixed.confidence < clear.confidence
    assert classify(["Lorem ipsum dolor sit amet"]).doc_type is None


def test_a_french_invoice_yields_its_fields_with_provenance():
    result = read(FR_INVOICE)
    fields = result.fields
    assert result.doc_type == "invoice" and result.source == "text"
    assert (fields["number"], fields["issue_date"], fields["due_date"]) == ("F-2026-001", "2026-03-12", "2026-04-11")
    assert (fields["net_total"], fields["tax_total"], fields["grand_total"]) == ("1000.00", "200.00", "1200.00")
    assert fields["currency"] == "EUR"
    assert fields["order_references"] == ["PO-4711"] and fields["delivery_references"] == ["BL-77"]
    assert fields["seller"] == Party(vat_id="FR40303265045") and fields["buyer"].vat_id == "DE136695976"
    assert fields["buyer"].id == "C-1042"
    assert fields["payment"]["iban"] == "FR1420041010050500013M02606"
    for path, expected in (("number", "F-2026-001"), ("grand_total", "1 200,00"), ("due_date", "11 avril 2026"),
                           ("seller.vat_id", "FR 40 303 265 045"), ("order_references[0]", "PO-4711")):
        spot = result.provenance[path]
        assert FR_INVOICE[spot["start"]:spot["end"]] == expected and spot["page"] == 1
    assert result.provenance["grand_total"]["confidence"] == 0.95  # net + tax = grand
    assert result.provenance["seller.vat_id"]["confidence"] == 0.95
    assert 0.7 <= result.confidence <= 1.0


def test_a_german_delivery_note_cites_its_order_and_customer():
    result = read(DE_DELIVERY)
    assert result.doc_type == "delivery_note"
    assert result.fields["number"] == "LS-2026-0815"
    assert result.fields["order_references"] == ["4711"]
    assert result.fields["buyer"].id == "10042"
    assert result.fields["issue_date"] == "2026-03-03"
    assert result.fields["grand_total"] is None


def test_an_english_payment_advice_lists_the_invoices_it_pays():
    result = read(EN_PAYMENT)
    fields = result.fields
    assert result.doc_type == "payment_advice"
    assert fields["invoice_references"] == ["INV-2026-0042", "INV-2026-0043"]
    assert (fields["grand_total"], fields["currency"], fields["issue_date"]) == ("1334.56", "GBP", "2026-03-20")
    assert fields["payment"]["reference"] == "GLX-PAY-991"
    assert fields["payments"] == [{"amount": "1334.56", "currency": "GBP", "reference": "GLX-PAY-991",
                                   "end_to_end_id": None, "invoice_references": ["INV-2026-0042", "INV-2026-0043"],
                                   "debtor": None, "creditor": None, "iban": None, "booking_date": "2026-03-20"}]


def test_provenance_points_into_the_right_page():
    result = read("RECHNUNG Nr. RE-5\nDatum: 01.02.2026\f\nSeite 2\nGesamtbetrag 99,50 EUR")
    spot = result.provenance["grand_total"]
    assert spot["page"] == 2 and "Seite 2\nGesamtbetrag 99,50 EUR"[spot["start"] - 1:spot["end"] - 1] == "99,50"


def test_an_unvalidated_vat_id_is_trusted_less():
    valid = read("FACTURE N° 1\nN° TVA : FR40303265045")
    wrong = read("FACTURE N° 1\nN° TVA : FR41303265045")
    unknown = read("FACTURA N° 1\nFACTURE\nNIF : ESA28015865")
    assert valid.fields["seller"].vat_id == "FR40303265045" and valid.provenance["seller.vat_id"]["confidence"] == 0.95
    assert wrong.fields["seller"].vat_id == "FR41303265045" and wrong.provenance["seller.vat_id"]["confidence"] == 0.25
    assert unknown.provenance["seller.vat_id"]["confidence"] == 0.6


def test_structured_extractions_are_left_alone():
    exact = Extracted("invoice", "cii", {"number": "X"}, 1.0, "text", ["FACTURE N° Y"])
    assert understand(exact) is exact


def test_empty_text_is_an_honest_nothing():
    result = read("   \n ")
    assert (result.doc_type, result.confidence, result.fields["number"]) == (None, 0.0, None)


@pytest.mark.parametrize("text,expected", [
    ("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("1 234,56", "1234.56"), ("1\u202f234,56", "1234.56"),
    ("1'234.50", "1234.50"), ("1234.5", "1234.50"), ("-12,00", "-12.00"), ("1.234.567,89", "1234567.89"),
    ("12", "12.00"), ("abc", None), ("", None)])
def test_amounts_in_every_usual_format(text, expected):
    value = parse_amount(text)
    assert (str(value) if value is not None else None) == expected
    assert value is None or isinstance(value, Decimal)


@pytest.mark.parametrize("text,iso", [
    ("12.03.2026", "2026-03-12"), ("12/03/2026", "2026-03-12"), ("2026-03-12", "2026-03-12"),
    ("1er mars 2026", "2026-03-01"), ("12 février 2026", "2026-02-12"), ("7 févr. 2026", "2026-02-07"),
    ("12. März 2026", "2026-03-12"), ("3. Dezember 2026", "2026-12-03"), ("March 5, 2026", "2026-03-05"),
    ("5th March 2026", "2026-03-05"), ("03/25/2026", "2026-03-25"), ("12.03.26", "2026-03-12")])
def test_dates_in_french_german_and_english(text, iso):
    assert [d[0].isoformat() for d in find_dates(f"Date: {text}.")] == [iso]


def test_impossible_dates_are_not_dates():
    assert find_dates("31.02.2026 and 45/13/2026") == []


@pytest.mark.parametrize("vat", ["FR40303265045", "FR 83 404 833 048", "DE136695976", "DE 811 128 135",
                                 "ATU13585627", "BE0403019261", "IT00743110157", "LU26375245", "NL004495445B01"])
def test_published_vat_ids_pass_their_check_digits(vat):
    assert vat_status(vat) == "valid"


@pytest.mark.parametrize("vat", ["FR40303265046", "FR41303265045", "DE136695977", "ATU13585628", "BE0403019262",
                                 "IT00743110158", "LU26375246", "NL004495446B01", "DE12345678", "XX123456789"])
def test_altered_vat_ids_fail(vat):
    assert vat_status(vat) == "invalid"


def test_vat_ids_without_a_known_checksum_are_checked_for_format_only():
    assert vat_status("ESA28015865") == "format"
    assert vat_status("PL5260250274") == "format"
    assert vat_status("PL52602502") == "invalid"


@pytest.mark.parametrize("iban,valid", [
    ("DE89 3704 0044 0532 0130 00", True), ("FR14 2004 1010 0505 0001 3M02 606", True),
    ("GB82 WEST 1234 5698 7654 32", True), ("BE68539007547034", True),
    ("DE89 3704 0044 0532 0130 01", False), ("DE89370400440532013", False), ("GB82 WEST 1234 5698 7654 33", False),
    ("not an iban", False)])
def test_iban_mod_97(iban, valid):
    assert iban_valid(iban) is valid


def test_generated_documents_are_read_right(tmp_path):
    """A floor, not the benchmark (bench/understanding_accuracy.py measures): 95 % of fields, every type."""
    rng, right, expected = random.Random(4711), 0, 0
    for _ in range(3):
        for doc_type in DOC_TYPES:
            for lang in LANGS:
                pages, truth = generate(rng, doc_type, lang)
                result = understand(Extracted(None, "text", {}, None, "\n".join(pages), pages))
                assert result.doc_type == doc_type, (lang, pages[0])
                for path, value in truth.items():
                    expected += 1
                    right += _get(result, path) == value
    assert right / expected >= 0.95, f"{right}/{expected}"


def _get(result: Extracted, path: str):
    if path == "doc_type":
        return result.doc_type
    head, _, tail = path.partition(".")
    value = result.fields[head]
    return getattr(value, tail) if isinstance(value, Party) else (value[tail] if tail else value)


def test_values_under_column_headers_are_read_by_column():
    text = ("Muster GmbH\nRECHNUNG\n"
            "Rechnungsnummer   Datum        Kundennummer   Ihre Bestellung\n"
            "RE-2026-17        03.03.2026   K-55           PO-88\n\n"
            "Nettobetrag     MwSt 19 %     Gesamtbetrag\n"
            "   100,00          19,00         119,00 EUR\n")
    fields = read(text).fields
    assert (fields["number"], fields["issue_date"], fields["buyer"].id) == ("RE-2026-17", "2026-03-03", "K-55")
    assert fields["order_references"] == ["PO-88"]
    assert (fields["net_total"], fields["tax_total"], fields["grand_total"]) == ("100.00", "19.00", "119.00")
    assert fields["amount_due"] == "119.00"  # nothing prepaid: the grand total, trusted less
    spacing_lost = read(text.replace("   ", " ").replace("  ", " ")).fields  # a PDF text layer keeps one blank
    assert (spacing_lost["net_total"], spacing_lost["tax_total"]) == ("100.00", "19.00")


def test_american_dates_are_recognised_from_the_document():
    fields = read("INVOICE No. 7\nInvoice Date 11/03/2017\nDue Date 12/03/2017\nPaid 11/17/2017").fields
    assert (fields["issue_date"], fields["due_date"]) == ("2017-11-03", "2017-12-03")
    assert read("FACTURE N° 7\nDate 11/03/2017\nÉchéance 12/03/2017").fields["issue_date"] == "2017-03-11"


def test_an_iban_is_not_read_as_a_vat_id_and_a_printed_sum_due_completes_the_totals():
    fields = read("Invoice # RE-1\nNet total: 496.00 €\nVAT total: 75.04 €\nDue payable: 571.04 €\n"
                  "VAT-ID: DE136695976\nIBAN DE88200800000970375700\n").fields
    assert fields["seller"].vat_id == "DE136695976" and fields["buyer"].vat_id is None
    assert fields["payment"]["iban"] == "DE88200800000970375700"
    assert (fields["tax_total"], fields["grand_total"], fields["amount_due"]) == ("75.04", "571.04", "571.04")
