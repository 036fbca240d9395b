"""A hardened lxml parser: no DTD, no entities, no network, no huge trees.

Any document type declaration is refused outright (billion laughs, external entities and DTD fetches all start
there), before lxml sees the document, and once more on the parsed tree in case the prolog check was evaded.
"""
from __future__ import annotations

import re

from lxml import etree

from archive.extraction.result import ExtractionError

_PROLOG_SCAN = 1 << 16  # a DOCTYPE can only appear before the root element; licence comments make prologs ~5 KB
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")


class MalformedXML(ExtractionError):
    """Not well-formed XML (a DOCTYPE refusal is a plain ExtractionError: it is refused whatever the document)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def _prolog(data: bytes) -> bytes:
    """The bytes before the root element's start tag (comments included)."""
    match = _ROOT_START.search(data)
    return data[: match.start()] if match else data


def _as_utf8(data: bytes) -> bytes:
    """UTF-16 documents are decoded for the prolog check only; everything else is scanned as bytes."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data


def parse(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes into the root element, or raise ExtractionError."""
    if _DOCTYPE.search(_prolog(_as_utf8(data[:_PROLOG_SCAN]))):
        raise ExtractionError("XML with a DOCTYPE or entity declaration is refused")
    try:
        tree = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"malformed XML: {exc}") from exc
    docinfo = tree.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ExtractionError("XML with a DOCTYPE or entity declaration is refused")
    return tree


def looks_like_xml(data: bytes) -> bool:
    start = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return start.startswith(b"<")
