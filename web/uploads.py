"""Multipart uploads are parsed straight into a hashing, size-bounded spool beside the blob store."""
from __future__ import annotations

from typing import IO, Any

from flask import Request, g, request

from archive.errors import InvalidInput
from archive.hashing import Spool
from web.context import runtime
from web.multipart import UploadFormParser

METADATA_LIMIT = 1024 * 1024


class ArchiveRequest(Request):
    form_data_parser_class = UploadFormParser

    def make_form_data_parser(self):
        parser = super().make_form_data_parser()
        parser.silent = False  # a malformed body is the client's error to hear about, not an empty form
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except ValueError as exc:
            raise InvalidInput(f"the multipart body is malformed: {exc}", code="malformed_multipart") from None

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        rt = runtime()
        spool = Spool(rt.blobs.spool_dir(), rt.settings.max_upload_bytes)
        g.setdefault("spools", []).append(spool)
        return spool  # type: ignore[return-value]


def discard_spools(_exc: Any = None) -> None:
    for spool in g.pop("spools", []):
        spool.discard()


def uploaded_spool(field: str) -> Spool | None:
    storage = request.files.get(field)
    return storage.stream if storage is not None else None  # type: ignore[return-value]


def form_text(field: str) -> str | None:
    """A form value, sent either as a plain field or as a small file part (curl -F metadata=@meta.json)."""
    if field in request.form:
        return request.form[field]
    spool = uploaded_spool(field)
    if spool is None:
        return None
    spool.finish()
    if spool.size > METADATA_LIMIT:
        raise InvalidInput(f"{field}: larger than {METADATA_LIMIT} bytes", code="invalid_metadata", field=field)
    return spool.path.read_bytes().decode("utf-8", errors="replace")
