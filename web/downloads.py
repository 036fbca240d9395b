"""Safe download headers: the original filename is metadata, never a path, and never trusted in a header."""
from __future__ import annotations

import mimetypes
import re
import tempfile
import unicodedata
from pathlib import Path
from urllib.parse import quote

from flask import Response

from audit.export import export_package
from web.context import actor, runtime

MAX_NAME = 150
_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9._ ()+,=@-]')


def content_disposition(filename: str | None, document_id: str, mime_type: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name in filename*, both stripped of paths and controls."""
    name = _clean(filename) or f"{document_id}{mimetypes.guess_extension(mime_type) or ''}"
    ascii_name = _UNSAFE_ASCII.sub("_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
    ascii_name = ascii_name.strip(" .") or document_id
    return f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'


def evidence_package_response(customer: str | None, order: str | None, query: str | None) -> Response:
    """The signed BagIt package as a download, for the API and the pages alike."""
    rt = runtime()
    with tempfile.TemporaryDirectory(dir=rt.blobs.spool_dir()) as workdir:
        path = Path(workdir) / "package.zip"
        summary = export_package(rt, actor(), path, customer, order, query)
        data = path.read_bytes()
    name = f"evidence-{customer}{'-' + order if order else ''}.zip" if customer else "evidence-search.zip"
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(name, "evidence", "application/zip")
    response.headers["X-Package-SHA256"] = summary["package_sha256"]
    return response


def _clean(filename: str | None) -> str:
    if not filename:
        return ""
    base = re.split(r"[/\\]", filename)[-1]
    # Drop controls (CR, LF, ...) and format characters such as the right-to-left override.
    kept = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf"))
    kept = kept.strip(" .")
    if len(kept) > MAX_NAME:
        stem, dot, ext = kept.rpartition(".")
        kept = (stem[:MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else kept[:MAX_NAME]
    return kept
