"""Imported last into the parsing forkserver: what every child would otherwise redo on its first file, done once.

PDFium sets up its fonts when it loads its first page with text, a few milliseconds in every child. And the garbage
collector of a child would walk, and so copy, every page of the preloaded heap; frozen objects are left alone.
"""
from __future__ import annotations

import gc
import io

import pikepdf
import pypdfium2 as pdfium

from archive.extraction.pdf import _read_page


def _tiny_text_pdf() -> bytes:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 100))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)))
    page.Contents = pdf.make_stream(b"BT /F1 12 Tf 10 50 Td (warm) Tj ET")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def warm_up() -> None:
    document = pdfium.PdfDocument(_tiny_text_pdf())
    try:
        _read_page(document, 0)
    finally:
        document.close()
    gc.freeze()


warm_up()
