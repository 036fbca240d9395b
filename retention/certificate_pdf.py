"""A readable PDF beside the signed JSON disposition certificate: every destroyed document with its checksums.

A minimal PDF 1.4 writer, streamed: pages are written as the documents come, so a certificate for any batch size
takes constant memory (only the page and object offsets are kept, a few bytes each). Standard Helvetica with
WinAnsiEncoding, so no font is embedded; characters outside it print as `?`. The JSON certificate stays the
evidence: the PDF repeats its digest and signature so a reader can match the two.
"""
from __future__ import annotations

from typing import Any, Callable

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 595, 842, 40  # A4 in points
FONT_SIZE, LEADING = 9, 12
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * MARGIN) // LEADING - 2  # room for the page footer
MAX_CHARS = 110
CATALOG, PAGES, FONT, FIRST_FREE = 1, 2, 3, 4


def pdf_text(value: str) -> bytes:
    """A PDF literal string: WinAnsi (cp1252) bytes with backslash and parentheses escaped."""
    raw = value[:MAX_CHARS].encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


class PdfWriter:
    """write(bytes) is the sink (a Spool); line() adds a text line; close() writes pages, xref and trailer."""

    def __init__(self, write: Callable[[bytes], Any], title: str) -> None:
        self._write, self._offset, self._title = write, 0, title
        self._offsets: dict[int, int] = {}
        self._pages: list[int] = []
        self._lines: list[str] = []
        self._next = FIRST_FREE
        self._put(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")
        self._object(FONT, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")

    def line(self, text: str = "") -> None:
        if len(self._lines) == LINES_PER_PAGE:
            self._flush_page()
        self._lines.append(text)

    def close(self) -> None:
        if self._lines or not self._pages:
            self._flush_page()
        kids = b" ".join(b"%d 0 R" % page for page in self._pages)
        self._object(PAGES, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(self._pages))
        info = self._allocate()
        self._object(info, b"<< /Title " + pdf_text(self._title) + b" /Producer (order-archive) >>")
        xref, size = self._offset, self._next
        entries = [b"0000000000 65535 f \n"] + [b"%010d 00000 n \n" % self._offsets[n] for n in range(1, size)]
        self._put(b"xref\n0 %d\n" % size + b"".join(entries))
        self._put(b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref))

    def _flush_page(self) -> None:
        top = PAGE_HEIGHT - MARGIN - FONT_SIZE
        body = [b"BT /F1 %d Tf %d TL %d %d Td" % (FONT_SIZE, LEADING, MARGIN, top)]
        body += [pdf_text(text) + b" Tj T*" for text in self._lines]
        body.append(b"ET BT /F1 7 Tf %d %d Td " % (MARGIN, MARGIN // 2) +
                    pdf_text(f"{self._title} - page {len(self._pages) + 1}") + b" Tj ET")
        stream = b"\n".join(body)
        contents, page = self._allocate(), self._allocate()
        self._object(contents, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        self._object(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> "
                           b">> /Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, contents))
        self._pages.append(page)
        self._lines = []

    def _allocate(self) -> int:
        self._next += 1
        return self._next - 1

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._offset
        self._put(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _put(self, data: bytes) -> None:
        self._write(data)
        self._offset += len(data)


def header_lines(batch_id: str, approvals: dict[str, Any], policy: dict[str, Any], issued_at: str) -> list[str]:
    return ["DISPOSITION CERTIFICATE", "", f"Batch: {batch_id}", f"Issued at: {issued_at}",
            f"Schedule: {policy['schedule']}  ({policy['schedule_hash']})", f"Reason: {policy.get('reason') or '-'}",
            f"Proposed by {approvals['proposed_by']} at {approvals['proposed_at']}",
            f"Approved by {approvals['approved_by']} at {approvals['approved_at']}",
            f"Executed by {approvals['executed_by']}", "",
            "Destroyed documents (id, type, customer, order, retained until; then each version's checksum):", ""]


def item_lines(item: dict[str, Any]) -> list[str]:
    lines = [f"{item['id']}  {item['doc_type']}  customer {item['customer']}  order {item['order'] or '-'}  "
             f"kept until {item['retain_until']}"]
    return lines + [f"    v{v['number']}  {v['checksum']}  {v['size']} bytes" for v in item["versions"]]


def footer_lines(disposed: int, skipped: int, digest: str, signature: dict[str, Any]) -> list[str]:
    return ["", f"Documents destroyed: {disposed}    skipped (no longer due at execution): {skipped}", "",
            "The signed JSON certificate is the evidence. Its canonical body has the digest",
            f"    {digest}",
            f"signed with {signature['algorithm']} by key {signature['key_id']}:",
            *_wrapped(signature["value"], 88), "Verify it with the public key published at /api/v1/audit/keys."]


def _wrapped(text: str, width: int) -> list[str]:
    return [f"    {text[i:i + width]}" for i in range(0, len(text), width)]
