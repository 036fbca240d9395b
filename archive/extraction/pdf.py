"""The text layer of a PDF, page by page, with pypdfium2 (PDFium).

Chosen over pdfminer.six by measurement (bench/pdf_text.py): on the same 76 PDFs PDFium read about 30 times as many
pages per second, with the same word recall on the PDFs whose text is known; see docs/processing.md. Runs only inside the sandbox (archive.extraction.sandbox).
"""
from __future__ import annotations

import pypdfium2 as pdfium
from pypdfium2.raw import FPDF_PAGEOBJ_IMAGE

from archive.extraction.result import ExtractionError

# Below this many visible characters per page on average, a PDF is taken to be a scan and goes to OCR.
MIN_CHARS_PER_PAGE = 16


def page_count(path: str) -> int:
    document = _open(path)
    try:
        return len(document)
    finally:
        document.close()


def pdf_pages(path: str, max_pages: int) -> tuple[list[str], bool]:
    """The text of each page, and whether any page shows an image (only then can OCR find anything)."""
    document = _open(path)
    try:
        count = len(document)
        if count > max_pages:
            raise ExtractionError(f"page limit: the PDF has {count} pages, the limit is {max_pages}")
        pages, images = [], False
        for number in range(count):
            text, has_image = _read_page(document, number)
            pages.append(text)
            images = images or has_image
        return pages, images
    finally:
        document.close()


def looks_scanned(pages: list[str]) -> bool:
    visible = sum(len("".join(text.split())) for text in pages)
    return not pages or visible < MIN_CHARS_PER_PAGE * len(pages)


def _read_page(document: pdfium.PdfDocument, number: int) -> tuple[str, bool]:
    try:
        page = document[number]
    except pdfium.PdfiumError as exc:
        raise ExtractionError(f"unreadable PDF: page {number + 1} cannot be loaded ({exc})") from None
    try:
        text_page = page.get_textpage()
        try:
            text = text_page.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
        finally:
            text_page.close()
        has_image = next(iter(page.get_objects(filter=[FPDF_PAGEOBJ_IMAGE], max_depth=3)), None) is not None
        return text, has_image
    finally:
        page.close()


def _open(path: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise ExtractionError("encrypted: the PDF needs a password to be read; the original is kept") from None
        raise ExtractionError(f"unreadable PDF: {message}") from None
