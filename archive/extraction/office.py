"""Text from DOCX, ODT and XLSX: zipfile plus defusedxml (no DTDs, no entities, no network), bounded reads.

A package member is read at most MAX_MEMBER_BYTES however large its header claims it is, so a zip bomb ends as a
clear failure, not as an exhausted machine (the sandbox's memory limit is the second fence).
"""
from __future__ import annotations

import re
import zipfile
from typing import Iterator
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from archive.extraction.result import ExtractionError

MAX_MEMBER_BYTES = 64 * 1024 * 1024
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def docx_pages(path: str) -> list[str]:
    with _package(path) as package:
        body = _xml(package, "word/document.xml")
    return ["\n".join(_paragraphs(body, W + "p", _docx_run_text))]


def odt_pages(path: str) -> list[str]:
    with _package(path) as package:
        content = _xml(package, "content.xml")
    return ["\n".join(_paragraphs(content, (TEXT + "p", TEXT + "h"), _odt_text))]


def xlsx_pages(path: str) -> list[str]:
    """One page per worksheet, one line per row, cells separated by tabs."""
    with _package(path) as package:
        names = set(package.namelist())
        shared = _shared_strings(_xml(package, "xl/sharedStrings.xml")) if "xl/sharedStrings.xml" in names else []
        sheets = sorted((n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                        key=lambda n: int(re.search(r"\d+", n.rsplit("/", 1)[1]).group()))
        return [_sheet_text(_xml(package, name), shared) for name in sheets]


def _paragraphs(root: Element, tags, text_of) -> Iterator[str]:
    tags = (tags,) if isinstance(tags, str) else tags
    for element in root.iter():
        if element.tag in tags:
            yield text_of(element)


def _docx_run_text(paragraph: Element) -> str:
    parts = []
    for element in paragraph.iter():
        if element.tag == W + "t" and element.text:
            parts.append(element.text)
        elif element.tag in (W + "tab",):
            parts.append("\t")
        elif element.tag in (W + "br", W + "cr"):
            parts.append("\n")
    return "".join(parts)


def _odt_text(paragraph: Element) -> str:
    parts = [paragraph.text or ""]
    for child in paragraph:
        if child.tag == TEXT + "s":
            parts.append(" " * int(child.get(TEXT + "c", "1")))
        elif child.tag == TEXT + "tab":
            parts.append("\t")
        elif child.tag == TEXT + "line-break":
            parts.append("\n")
        elif child.tag not in (TEXT + "p", TEXT + "h"):
            parts.append(_odt_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _shared_strings(root: Element) -> list[str]:
    return ["".join(t.text or "" for t in item.iter(S + "t")) for item in root.iter(S + "si")]


def _sheet_text(root: Element, shared: list[str]) -> str:
    rows = []
    for row in root.iter(S + "row"):
        cells = [_cell_text(cell, shared) for cell in row.iter(S + "c")]
        if any(cells):
            rows.append("\t".join(cells))
    return "\n".join(rows)


def _cell_text(cell: Element, shared: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(S + "t"))
    value = cell.find(S + "v")
    if value is None or value.text is None:
        return ""
    if kind == "s":
        index = int(value.text)
        return shared[index] if 0 <= index < len(shared) else ""
    return value.text


def _package(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExtractionError(f"unreadable package: {exc}") from None


def _xml(package: zipfile.ZipFile, name: str) -> Element:
    try:
        with package.open(name) as member:
            data = member.read(MAX_MEMBER_BYTES + 1)
    except KeyError:
        raise ExtractionError(f"unreadable package: no {name}") from None
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise ExtractionError(f"unreadable package member {name}: {exc}") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise ExtractionError(f"package member {name} is larger than {MAX_MEMBER_BYTES // 2**20} MB unpacked")
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ExtractionError(f"refused XML in {name}: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - ParseError and friends: a broken member
        raise ExtractionError(f"malformed XML in {name}: {exc}") from None
