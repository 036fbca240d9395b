"""Previews: PDFs and raster images shown inline, and a first-page thumbnail of PDFs made with pypdfium2.

Nothing else is ever served inline: HTML, SVG, XML and every other type can only be downloaded, so document
content is never interpreted by the browser as a page. Each preview is a read of content, so it is audited.
"""
from __future__ import annotations

import io

from archive.access import readable, record_refusal, refusal
from archive.documents import Content, load, verify_blob
from archive.errors import Gone, NotFound, PayloadTooLarge, UnsupportedMediaType
from archive.models import Document, DocumentVersion
from archive.runtime import Runtime
from audit.log import Actor, append

INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
THUMBNAIL_WIDTH = 320
THUMBNAIL_MAX_BYTES = 50 * 1024 * 1024


def preview_kind(mime_type: str) -> str | None:
    if mime_type == "application/pdf":
        return "pdf"
    return "image" if mime_type in INLINE_IMAGES else None


def open_preview(rt: Runtime, actor: Actor, document_id: str, version: int | None, kind: str = "inline") -> Content:
    """The verified content of a PDF or image version, for inline display; 415 for any other type."""
    with rt.transaction() as session:
        document = load(session, document_id)
        chosen = _version(document, version)
        allowed = readable(actor, document)
        if not allowed:
            record_refusal(session, rt.clock, actor, document_id, "content")
        else:
            _require_previewable(document, chosen, kind)
            verify_blob(rt, chosen.checksum, chosen.size)
            append(session, rt.clock, actor, "document.previewed", f"document:{document_id}",
                   {"version": chosen.number, "checksum": chosen.checksum, "kind": kind})
    if not allowed:
        raise refusal(document_id)
    return Content(document_id, chosen.number, chosen.checksum, chosen.size, chosen.mime_type,
                   chosen.original_filename, rt.blobs.open(chosen.checksum, chosen.size))


def _require_previewable(document: Document, version: DocumentVersion, kind: str) -> None:
    if document.status == "disposed":
        raise Gone(f"the content of document {document.id} was destroyed by disposition", code="disposed")
    if preview_kind(version.mime_type) is None:
        raise UnsupportedMediaType(f"{version.mime_type} is never shown inline; download it instead",
                                   code="no_preview")
    if kind == "thumbnail" and version.size > THUMBNAIL_MAX_BYTES:
        raise PayloadTooLarge("too large for a thumbnail", code="no_preview")


def thumbnail_png(rt: Runtime, actor: Actor, document_id: str, version: int | None) -> bytes:
    """The first page of a PDF (or the image itself), scaled to THUMBNAIL_WIDTH, as PNG."""
    from PIL import Image
    content = open_preview(rt, actor, document_id, version, kind="thumbnail")
    with content.stream as stream:
        data = stream.read()
    if content.mime_type == "application/pdf":
        image = _pdf_first_page(data)
    else:
        image = Image.open(io.BytesIO(data))
        image.load()
    image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * 2))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _pdf_first_page(data: bytes):
    import pypdfium2 as pdfium
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnsupportedMediaType(f"the PDF cannot be rendered: {exc}", code="no_preview") from None
    try:
        if len(pdf) == 0:
            raise UnsupportedMediaType("the PDF has no pages", code="no_preview")
        page = pdf[0]
        width = page.get_width() or THUMBNAIL_WIDTH
        image = page.render(scale=min(THUMBNAIL_WIDTH / width, 2.0)).to_pil()
        page.close()
        return image
    finally:
        pdf.close()


def _version(document: Document, number: int | None) -> DocumentVersion:
    if number is None:
        return document.versions[-1]
    for version in document.versions:
        if version.number == number:
            return version
    raise NotFound(f"document {document.id} has no version {number}", code="version_not_found")
