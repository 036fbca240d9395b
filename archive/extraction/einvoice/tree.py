"""Namespace-agnostic lookups on lxml trees.

CII namespaces differ between ZUGFeRD 1 (D13B, ":12"), CII D16B (":100") and Order-X (":128"), and UBL keeps one
namespace per document type, so paths here are written with bare local names ("ExchangedDocument/ID") and every
step matches any namespace. Alternatives are separated by "|": the first path that yields a value wins.
"""
from __future__ import annotations

from functools import lru_cache

from lxml import etree

from archive.extraction.einvoice.normalise import text_value


@lru_cache(maxsize=2048)
def _any_ns(path: str) -> str:
    steps = []
    for step in path.split("/"):
        if step in ("", ".", "..", "*") or step.startswith("{"):
            steps.append(step)
        else:
            steps.append("{*}" + step)
    return "/".join(steps)


@lru_cache(maxsize=2048)
def _alternatives(paths: str) -> tuple[str, ...]:
    return tuple(_any_ns(path.strip()) for path in paths.split("|"))


def find(element: etree._Element | None, paths: str) -> etree._Element | None:
    if element is None:
        return None
    for path in _alternatives(paths):
        found = element.find(path)
        if found is not None:
            return found
    return None


def findall(element: etree._Element | None, paths: str) -> list[etree._Element]:
    if element is None:
        return []
    for path in _alternatives(paths):
        found = element.findall(path)
        if found:
            return found
    return []


def text(element: etree._Element | None, paths: str) -> str | None:
    """The first non-empty, whitespace-collapsed text among the alternatives."""
    if element is None:
        return None
    for path in _alternatives(paths):
        for found in element.iterfind(path):
            value = text_value(found.text)
            if value is not None:
                return value
    return None


def texts(element: etree._Element | None, paths: str) -> list[str]:
    """Every non-empty text along all alternatives, de-duplicated, in document order per alternative."""
    values: list[str] = []
    if element is None:
        return values
    for path in _alternatives(paths):
        for found in element.iterfind(path):
            value = text_value(found.text)
            if value is not None and value not in values:
                values.append(value)
    return values


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""


_NOT_TEXT = ("BinaryObject", "X509Certificate", "SignatureValue", "DigestValue")


def full_text(root: etree._Element) -> str:
    """The document's text values, one per line, for the search index; base64 attachments and signatures left out."""
    parts = []
    for element in root.iter(tag=etree.Element):
        if element.tag.endswith(_NOT_TEXT):
            continue
        value = text_value(element.text)
        if value:
            parts.append(value)
    return "\n".join(parts)
