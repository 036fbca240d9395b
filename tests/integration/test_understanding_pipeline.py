"""Through the real pipeline: PDFs filed by the API, read by the worker, understood, linked into their dossier."""
from __future__ import annotations

from archive.tasks import drain
from tests.fixtures.business_docs import text_pdf
from tests.fixtures.samples import metadata, upload

PO = "Beispiel AG\nBESTELLUNG Nr. PO-4711\nDatum: 01.03.2026\nGesamtbetrag 1.190,00 EUR\n"
INVOICE = ("Muster Technik GmbH\nRECHNUNG Nr. RE-2026-17\nRechnungsdatum: 06.03.2026\nIhre Bestellung Nr. PO-4711\n"
           "Nettobetrag 1.000,00 EUR\nMwSt. 19 % 190,00 EUR\nGesamtbetrag 1.190,00 EUR\n"
           "IBAN: DE89 3704 0044 0532 0130 00\nUSt-IdNr.: DE136695976\n")


def file(client, auth, text: str, doc_type: str, order: str | None) -> str:
    meta = metadata(doc_type=doc_type, order={"number": order} if order else None)
    response = upload(client, auth, text_pdf(text.split("\f")), meta, filename=f"{doc_type}.pdf")
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_a_filed_invoice_is_understood_linked_and_shown_in_its_dossier(client, auth, runtime):
    po = file(client, auth, PO, "purchase_order", "PO-4711")
    invoice = file(client, auth, INVOICE, "invoice", None)
    drain(runtime)
    shown = client.get(f"/api/v1/documents/{invoice}", headers=auth).json
    assert shown["processing"]["status"] == "done"
    extracted = shown["extracted"]
    assert (extracted["source"], extracted["doc_type"]) == ("text", "invoice")
    fields = extracted["fields"]
    assert (fields["number"], fields["issue_date"], fields["grand_total"]) == ("RE-2026-17", "2026-03-06", "1190.00")
    assert fields["order_references"] == ["PO-4711"] and fields["payment"]["iban"] == "DE89370400440532013000"
    assert extracted["provenance"]["grand_total"]["page"] == 1 and extracted["provenance"]["grand_total"][
        "confidence"] == 0.95
    assert shown["order"] == {"number": "PO-4711"}  # linked by the order number it cites
    assert {"type": "invoices", "source": invoice, "target": po, "direction": "outgoing"} in shown["relations"]
    dossier = client.get("/api/v1/customers/C-1042/orders/PO-4711", headers=auth).json
    assert dossier["flags"]["flags"] == ["invoice_without_delivery_note"]
    assert dossier["flags"]["amounts"]["order_total"] == dossier["flags"]["amounts"]["invoiced_total"] == "1190.00"
    assert client.get("/api/v1/review", headers=auth).json["items"] == []
