"""Understanding documents: structured e-invoices and payment advices, text, OCR.

`result` holds the shared types (`Extracted`, `Party`, `ExtractionError`); `einvoice` parses structured XML
(CII, UBL, ISO 20022) and the XML embedded in PDF/A-3. The dispatch over these lives here (owned by the pipeline):
`extract` runs inside the sandbox (archive.extraction.sandbox) on a private copy of the original and answers with
plain JSON data: the Extracted, an optional rendition file, and the attachments to file.
"""
from __future__ import annotations

from dataclasses import asdict
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from archive.extraction.result import Extracted, ExtractionError, blank_fields

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
IMAGES = ("image/png", "image/jpeg", "image/tiff")
PLAIN = ("text/plain", "text/csv", "application/xml")
MAX_TEXT_BYTES = 5 * 1024 * 1024


def extract(path: str, mime_type: str, workdir: str, max_pages: int) -> dict[str, Any]:
    """The whole reading of one file. Returns {"extracted", "rendition", "attachments"} as JSON-able data."""
    work = Path(workdir)
    rendition, attachments = None, []
    if mime_type == "application/pdf":
        extracted, rendition = _pdf(path, work, max_pages)
    elif mime_type in IMAGES:
        from archive.extraction.ocr import image_to_pdf, ocr_pdf
        output, pages = ocr_pdf(image_to_pdf(Path(path), work, max_pages), work)
        extracted, rendition = _text(pages, "ocr"), str(output)
    elif mime_type in PLAIN:
        extracted = _plain(path, mime_type)
    elif mime_type in (DOCX, ODT, XLSX):
        from archive.extraction import office
        reader = {DOCX: office.docx_pages, ODT: office.odt_pages, XLSX: office.xlsx_pages}[mime_type]
        extracted = _text(reader(path), "text")
    elif mime_type == "message/rfc822":
        from archive.extraction.email import read_message
        text, attachments = read_message(path, work)
        extracted = _text([text], "text")
    else:
        extracted = _text([], "none")
    return {"extracted": asdict(extracted),
            "rendition": {"path": rendition, "kind": "ocr-pdfa", "mime_type": "application/pdf"} if rendition else None,
            "attachments": attachments}


def _pdf(path: str, work: Path, max_pages: int) -> tuple[Extracted, str | None]:
    from archive.extraction import pdf
    structured = _structured_pdf(path)
    pages, has_images = pdf.pdf_pages(path, max_pages)
    if structured is not None:
        structured.pages, structured.text = structured.pages or pages, structured.text or "\n\n".join(pages)
        return structured, None
    if not (has_images and pdf.looks_scanned(pages)):
        return _text(pages, "text"), None
    from archive.extraction.ocr import ocr_pdf
    output, ocr_pages = ocr_pdf(Path(path), work)
    return _text(ocr_pages, "ocr"), str(output)


def _plain(path: str, mime_type: str) -> Extracted:
    with open(path, "rb") as source:
        data = source.read(MAX_TEXT_BYTES)
    if mime_type == "application/xml":
        einvoice = _einvoice()
        structured = einvoice.parse_xml(data) if einvoice else None
        if structured is not None:
            structured.text = structured.text or data.decode("utf-8", errors="replace")
            return structured
    return _text([data.decode("utf-8", errors="replace")], "text")


def _structured_pdf(path: str) -> Extracted | None:
    """A broken embedded invoice does not make the PDF unreadable: its text layer is still worth having."""
    einvoice = _einvoice()
    try:
        return einvoice.from_pdf(path) if einvoice else None
    except ExtractionError:
        return None


def _einvoice():
    """The structured parsers (archive.extraction.einvoice), once they are there."""
    if find_spec("archive.extraction.einvoice") is None:
        return None
    from archive.extraction import einvoice
    return einvoice


def _text(pages: list[str], source: str) -> Extracted:
    return Extracted(doc_type=None, source=source, fields=blank_fields(), confidence=None,
                     text="\n\n".join(pages), pages=list(pages))


__all__ = ["extract", "Extracted", "ExtractionError"]
