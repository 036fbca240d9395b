"""Exact parsing of structured business documents: CII (Factur-X, ZUGFeRD 1/2, XRechnung, Order-X), UBL 2.x,
ISO 20022 camt/remt, and the XML embedded in PDF/A-3 hybrids.

`parse_xml(data)` returns an Extracted (source "cii", "ubl" or "camt", confidence 1.0), None for XML that is not a
document we know (FatturaPA, pain.001, a UBL Catalogue...), and raises ExtractionError for refused or broken XML.
"""
from __future__ import annotations

from pathlib import Path

from archive.extraction.einvoice import cii, iso20022, ubl
from archive.extraction.einvoice import pdf as _pdf
from archive.extraction.einvoice.tree import local_name
from archive.extraction.einvoice.xmlsafe import MalformedXML, looks_like_xml, parse
from archive.extraction.result import Extracted, ExtractionError

_MARKER_SCAN = 1 << 16
_OUR_MARKERS = (b"CrossIndustry", b"SCRDMCCBDACIOMessageStructure", b"urn:oasis:names:specification:ubl:schema",
                b"urn:iso:std:iso:20022:tech:xsd:camt", b"urn:iso:std:iso:20022:tech:xsd:remt", b"CBFBUY")

__all__ = ["parse_xml", "from_pdf", "ExtractionError"]


def parse_xml(data: bytes) -> Extracted | None:
    if not looks_like_xml(data):
        return None
    try:
        root = parse(data)
    except MalformedXML:
        if not any(marker in data[:_MARKER_SCAN] for marker in _OUR_MARKERS):
            return None  # broken XML of a kind we would not have read anyway (FatturaPA, pain...)
        raise
    root = _unwrap_envelope(root)
    if cii.flavour_of(root) is not None:
        return cii.parse(root)
    if ubl.is_ubl(root):
        return ubl.parse(root)
    kind = iso20022.message_type(root)
    if kind is not None:
        return iso20022.parse(root, kind)
    return None


def _unwrap_envelope(root):
    """PEPPOL transports documents inside an SBDH envelope: the business document is its last child."""
    if local_name(root) == "StandardBusinessDocument" and len(root) > 1:
        return root[-1]
    return root


def from_pdf(source: str | Path | bytes) -> Extracted | None:
    """The structured document embedded in a PDF (path or bytes), or None when it carries none we know."""
    return _pdf.from_pdf(source, parse_xml)
