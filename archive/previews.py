"""Previews: PDF pages rendered to PNG with pypdfium2 (and a first-page thumbnail), raster images shown inline.

Browsers refuse to run their PDF viewer in a sandboxed frame, so the document page shows PDF pages as images
rendered here, in a limited child process (archive/extraction/sandbox.py): the PDF is untrusted input.

Nothing else is ever served inline: HTML, SVG, XML and every other type can only be downloaded, so document
content is never interpreted by the browser as a page. Each preview is a read of content, so it is audited.
"""
from __future__ import annotations

import base64
import io

from archive.access import read_permitted, refusal
from archive.documents import Content, load, verify_blob, version_of
from archive.errors import Gone, NotFound, PayloadTooLarge, UnsupportedMediaType
from archive.extraction.sandbox import Limits, SandboxFailure, run_limited
from archive.models import Document, DocumentVersion
from archive.runtime import Runtime
from audit.log import Actor, append

INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
THUMBNAIL_WIDTH = 320
PAGE_WIDTH = 1000  # pixels: readable on a wide screen, a few hundred KB of PNG
RENDER_CPU_SECONDS = 20
RENDER_WALL_SECONDS = 30


def preview_kind(mime_type: str) -> str | None:
    if mime_type == "application/pdf":
        return "pdf"
    return "image" if mime_type in INLINE_IMAGES else None


def open_preview(rt: Runtime, actor: Actor, document_id: str, version: int | None, kind: str = "inline",
                 page: int | None = None) -> Content:
    """The verified content of a PDF or image version, for inline display; 415 for any other type.

    `kind` is inline, thumbnail, page (one page image, `page` is its number) or pages (counting them)."""
    with rt.transaction() as session:
        document = load(session, document_id)
        chosen = version_of(document, version)
        allowed = read_permitted(session, rt.clock, actor, document, "content")
        if allowed:
            _require_previewable(document, chosen, kind, rt.settings.preview_max_bytes)
            _require_page(page, rt.settings.preview_max_pages)
            verify_blob(rt, chosen.checksum, chosen.size)
            details = {"version": chosen.number, "checksum": chosen.checksum, "kind": kind}
            append(session, rt.clock, actor, "document.previewed", f"document:{document_id}",
                   details if page is None else {**details, "page": page})
    if not allowed:
        raise refusal(document_id)
    return Content(document_id, chosen.number, chosen.checksum, chosen.size, chosen.mime_type,
                   chosen.original_filename, rt.blobs.open(chosen.checksum, chosen.size))


def _require_previewable(document: Document, version: DocumentVersion, kind: str, max_bytes: int) -> None:
    if document.status == "disposed":
        raise Gone(f"the content of document {document.id} was destroyed by disposition", code="disposed")
    if preview_kind(version.mime_type) is None:
        raise UnsupportedMediaType(f"{version.mime_type} is never shown inline; download it instead",
                                   code="no_preview")
    if kind in ("page", "pages") and version.mime_type != "application/pdf":
        raise UnsupportedMediaType("only PDFs have page images", code="no_preview")
    if kind != "inline" and version.size > max_bytes:
        raise PayloadTooLarge(f"too large to render ({version.size} bytes, at most {max_bytes}); download it",
                              code="no_preview")


def _require_page(page: int | None, max_pages: int) -> None:
    if page is not None and not 1 <= page <= max_pages:
        raise NotFound(f"only pages 1 to {max_pages} are rendered as images; download the document for the rest",
                       code="page_beyond_preview_limit")


def page_png(rt: Runtime, actor: Actor, document_id: str, version: int | None, page: int) -> bytes:
    """Page `page` (from 1) of a PDF version as a PNG PAGE_WIDTH wide; 404 past its last page."""
    content = open_preview(rt, actor, document_id, version, kind="page", page=page)
    result = _render_limited(rt, content, page - 1)
    if "png" not in result:
        raise NotFound(f"document {document_id} has {result['count']} pages, not {page}", code="page_not_found")
    return base64.b64decode(result["png"])


def page_count(rt: Runtime, actor: Actor, document_id: str, version: int | None = None) -> dict:
    """How many pages a PDF has and how many the document page shows, or why it shows none."""
    try:
        content = open_preview(rt, actor, document_id, version, kind="pages")
        count = _render_limited(rt, content, None)["count"]
    except (UnsupportedMediaType, PayloadTooLarge, Gone) as exc:
        return {"count": None, "shown": 0, "error": str(exc)}
    return {"count": count, "shown": min(count, rt.settings.preview_max_pages), "error": None}


def _render_limited(rt: Runtime, content: Content, index: int | None) -> dict:
    with content.stream as stream:
        data = stream.read()
    settings = rt.settings
    limits = Limits(cpu_seconds=min(RENDER_CPU_SECONDS, settings.processing_cpu_seconds),
                    memory_mb=settings.processing_memory_mb, wall_seconds=RENDER_WALL_SECONDS,
                    jobs_per_worker=settings.processing_jobs_per_worker)
    try:
        return run_limited(render_page, (data, index, PAGE_WIDTH), limits)
    except SandboxFailure as exc:
        raise UnsupportedMediaType(f"the PDF cannot be rendered: {exc.reason}", code="no_preview") from None


def render_page(data: bytes, index: int | None, width: int) -> dict:
    """In the limited child: the page count and, if `index` is a page, that page as base64 PNG."""
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(data)
    try:
        count = len(pdf)
        if index is None or index >= count:
            return {"count": count}
        page = pdf[index]
        image = page.render(scale=min(width / (page.get_width() or width), 4.0)).to_pil()
        page.close()
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
        return {"count": count, "png": base64.b64encode(out.getvalue()).decode("ascii")}
    finally:
        pdf.close()


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
