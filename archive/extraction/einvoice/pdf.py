"""The XML invoice embedded in a PDF/A-3 (Factur-X, ZUGFeRD 1/2, XRechnung, Order-X), read with pikepdf.

Attachments are collected from the EmbeddedFiles name tree and from the catalog's /AF associated files. Every
XML attachment is tried: the conventional names first (see ATTACHMENT_NAMES, all names found in the ZUGFeRD
corpus), then any other *.xml. When one PDF carries both, the ZUGFeRD 2 / Factur-X XML wins over ZUGFeRD 1.
"""
from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Callable

import pikepdf

from archive.extraction.result import Extracted

ATTACHMENT_NAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "order-x.xml", "ZUGFeRD-invoice.xml")
MAX_ATTACHMENT = 32 * 1024 * 1024
_RANK = {"cii": 0, "order-x": 0, "ubl": 1, "iso20022": 2, "zugferd1": 3}


def from_pdf(source: str | Path | bytes, parse_xml: Callable[[bytes], Extracted | None]) -> Extracted | None:
    try:
        pdf = pikepdf.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except (pikepdf.PdfError, pikepdf.PasswordError, OSError, ValueError):
        return None  # not a readable PDF: the text pipeline decides what it is
    with pdf:
        found = []
        for name, data in _ordered(_xml_attachments(pdf)):
            extracted = parse_xml(data)
            if extracted is not None:
                extracted.details.update(container="pdf", attachment=name)
                found.append(extracted)
    if not found:
        return None
    return min(found, key=lambda item: _RANK.get(item.details.get("syntax"), 9))


def _ordered(attachments: dict[str, bytes]) -> list[tuple[str, bytes]]:
    known = [name.lower() for name in ATTACHMENT_NAMES]
    def key(name: str) -> tuple[int, str]:
        lowered = name.lower()
        return (known.index(lowered) if lowered in known else len(known), name)
    return [(name, attachments[name]) for name in sorted(attachments, key=key)]


def _xml_attachments(pdf: pikepdf.Pdf) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        for name, spec in pdf.attachments.items():
            _add(found, name, spec.obj)
    except (pikepdf.PdfError, KeyError, TypeError, ValueError):
        pass  # a broken name tree: the /AF array below may still hold the file
    try:
        associated = pdf.Root.get("/AF")
        for spec in associated if isinstance(associated, pikepdf.Array) else []:
            _add(found, _spec_name(spec), spec)
    except (pikepdf.PdfError, KeyError, TypeError, ValueError):
        pass
    return found


def _spec_name(spec: pikepdf.Object) -> str:
    for key in ("/UF", "/F"):
        value = spec.get(key) if isinstance(spec, pikepdf.Dictionary) else None
        if value is not None:
            return str(value)
    return ""


def _add(found: dict[str, bytes], name: str, spec: pikepdf.Object) -> None:
    name = name or _spec_name(spec)
    if not name.lower().endswith(".xml") or name in found or not isinstance(spec, pikepdf.Dictionary):
        return
    files = spec.get("/EF")
    stream = None
    if isinstance(files, pikepdf.Dictionary):
        stream = files.get("/UF") or files.get("/F")
    if not isinstance(stream, pikepdf.Stream):
        return
    params = stream.get("/Params")
    declared = params.get("/Size") if isinstance(params, pikepdf.Dictionary) else None
    if isinstance(declared, int) and declared > MAX_ATTACHMENT:
        return
    data = _bounded_bytes(stream)
    if data is not None:
        found[name] = data


def _bounded_bytes(stream: pikepdf.Stream) -> bytes | None:
    """The decoded stream, or None past MAX_ATTACHMENT; plain Flate is inflated with a cap (no zip bomb in memory)."""
    if stream.get("/Filter") == pikepdf.Name.FlateDecode and stream.get("/DecodeParms") is None:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(stream.read_raw_bytes(), MAX_ATTACHMENT + 1)
        except zlib.error:
            return None
    else:
        data = stream.read_bytes()
    return data if len(data) <= MAX_ATTACHMENT else None
