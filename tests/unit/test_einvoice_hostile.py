"""Hostile XML is refused before any entity is expanded or any DTD fetched."""
import pytest

from archive.extraction.einvoice import parse_xml
from archive.extraction.einvoice.normalise import amount, cii_date, quantity
from archive.extraction.result import ExtractionError

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">&lol4;</rsm:CrossIndustryInvoice>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"><cbc:ID>&xxe;</cbc:ID></Invoice>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/evil.dtd">
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"""
PARAMETER_ENTITY = b"""<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]><x/>"""
AFTER_LONG_COMMENT = b"<?xml version='1.0'?><!--" + b"x" * 70000 + b"-->" + EXTERNAL_DTD.split(b"?>", 1)[1]


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY,
                                      AFTER_LONG_COMMENT, EXTERNAL_ENTITY.decode().encode("utf-16")],
                         ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity",
                              "doctype-after-70k-comment", "utf16-external-entity"])
def test_hostile_xml_is_refused(document):
    with pytest.raises(ExtractionError) as info:
        parse_xml(document)
    assert "DOCTYPE" in info.value.reason or "malformed" in info.value.reason


def test_amounts_quantities_and_dates_have_one_spelling():
    assert [amount(v) for v in ("473", "473.00", "9.9000", "0.12345", "-5.1", " 1 234.5 ")] == [
        "473.00", "473.00", "9.90", "0.12345", "-5.10", "1234.50"]
    assert amount("abc") is None and amount("NaN") is None
    assert [quantity(v) for v in ("20.0000", "1", "0.50", "1E+2")] == ["20", "1", "0.5", "100"]
    assert cii_date("20180305", "102") == "2018-03-05"
    assert cii_date("202003311232", "203") == "2020-03-31"
