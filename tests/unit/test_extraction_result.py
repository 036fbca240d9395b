import json

import pytest

from archive.extraction.result import FIELD_KEYS, Extracted, ExtractionError, Party, blank_fields


def test_blank_fields_has_every_key_with_missing_values():
    fields = blank_fields()
    assert set(fields) == set(FIELD_KEYS)
    assert fields["lines"] == [] and fields["order_references"] == []
    assert fields["number"] is None and fields["seller"] == Party()
    assert fields["payment"] == {"iban": None, "reference": None}


def test_as_json_serialises_parties_and_is_json_ready():
    fields = blank_fields()
    fields["seller"] = Party(name="ACME", vat_id="DE123456789")
    fields["lines"] = [{"id": "1", "description": "x", "quantity": "2", "unit_price": "1.5", "net_amount": "3"}]
    extracted = Extracted(doc_type="invoice", source="cii", fields=fields, confidence=1.0)
    out = json.loads(json.dumps(extracted.as_json()))
    assert set(out) == {"doc_type", "source", "fields", "confidence"}
    assert out["fields"]["seller"] == {"name": "ACME", "vat_id": "DE123456789", "id": None}
    assert out["fields"]["buyer"] == {"name": None, "vat_id": None, "id": None}
    assert out["fields"]["lines"][0]["net_amount"] == "3"


def test_as_json_includes_provenance_only_when_present():
    extracted = Extracted(doc_type=None, source="text", fields=blank_fields(), confidence=0.4)
    assert "provenance" not in extracted.as_json()
    extracted.provenance["number"] = {"page": 1, "start": 10, "end": 18, "confidence": 0.9}
    assert extracted.as_json()["provenance"]["number"]["page"] == 1


def test_extraction_error_keeps_its_reason():
    with pytest.raises(ExtractionError) as info:
        raise ExtractionError("DOCTYPE refused")
    assert info.value.reason == "DOCTYPE refused"
