"""Type detection from content (never from the filename or the client's claim), against an allow-list."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import magic

from archive.errors import UnsupportedMediaType

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"

ALLOWED = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/tiff", "application/xml", "text/plain", "text/csv",
    "message/rfc822", DOCX, ODT, XLSX,
})

# libmagic spellings of the same thing.
ALIASES = {"text/xml": "application/xml", "text/rtf": "application/rtf"}

# Members that identify an Office Open XML or OpenDocument package when libmagic only sees a ZIP.
ZIP_MARKERS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX),
               ("buildVersionHistory.plist", "application/x-iwork-pages-sffpages"))
# A web archive (MHT) is headers and MIME parts that libmagic reads as plain text.
MHT_HEAD = re.compile(rb"\A(?:[A-Za-z-]+:[^\n]*\n)*?Content-Type:\s*multipart/related", re.IGNORECASE)


def detect(path: Path) -> str:
    detected = magic.from_file(str(path), mime=True)
    detected = ALIASES.get(detected, detected)
    if detected in ("application/zip", "application/octet-stream") and zipfile.is_zipfile(path):
        detected = _office_type(path) or detected
    elif detected == "text/plain" and _is_web_archive(path):
        detected = "multipart/related"
    return detected


def detect_allowed(path: Path) -> str:
    detected = detect(path)
    if detected not in ALLOWED:
        raise UnsupportedMediaType(f"files of type {detected} are not accepted", code="unsupported_media_type",
                                   detected_type=detected, allowed_types=sorted(ALLOWED))
    return detected


def _is_web_archive(path: Path) -> bool:
    with path.open("rb") as source:
        head = source.read(4096).replace(b"\r\n", b"\n")
    return MHT_HEAD.match(head) is not None


def _office_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            if "mimetype" in names and package.read("mimetype").strip() == ODT.encode():
                return ODT
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return next((mime for marker, mime in ZIP_MARKERS if marker in names), None)
