"""Documents: file, read, download, add versions, correct metadata."""
from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from archive import documents, filing
from archive.errors import InvalidInput
from archive.metadata import parse_filing, parse_json_object, parse_patch
from retention import disposition
from web.auth import requires
from web.context import actor, runtime
from web.downloads import content_disposition
from web.params import positive_int_param
from web.uploads import form_text, uploaded_spool

bp = Blueprint("documents", __name__)


@bp.post("/documents")
@requires("file")
def file_document():
    spool = _required_file()
    metadata = parse_filing(parse_json_object(form_text("metadata")))
    receipt = filing.file_document(runtime(), spool, metadata, actor(), filename=_filename(),
                                   channel="api", idempotency_key=request.headers.get("Idempotency-Key"))
    status = 200 if receipt["duplicate"] else 201
    return receipt, status, {"Location": url_for("documents.show", document_id=receipt["id"])}


@bp.get("/documents/<document_id>")
@requires("read")
def show(document_id: str):
    return documents.show_document(runtime(), actor(), document_id)


@bp.delete("/documents/<document_id>")
@requires("file")
def delete(document_id: str):
    """Always refused and recorded: content goes only through a four-eyes disposition batch after retention."""
    disposition.refuse_deletion(runtime(), actor(), document_id)


@bp.get("/documents/<document_id>/content")
@requires("read")
def content(document_id: str):
    version = positive_int_param("version")
    stored = documents.open_content(runtime(), actor(), document_id, version)
    response = Response(_chunks(stored.stream), mimetype=stored.mime_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(stored.size)
    response.headers["ETag"] = f'"{stored.checksum}"'
    response.headers["Digest"] = f"sha-256={_b64(stored.checksum)}"
    response.headers["Content-Disposition"] = content_disposition(stored.filename, stored.document_id,
                                                                  stored.mime_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/documents/<document_id>/versions")
@requires("file")
def add_version(document_id: str):
    spool = _required_file()
    reason = request.form.get("reason") or None
    receipt = filing.add_version(runtime(), document_id, spool, actor(), filename=_filename(), reason=reason,
                                 idempotency_key=request.headers.get("Idempotency-Key"))
    return receipt, 201, {"Location": url_for("documents.show", document_id=document_id)}


@bp.patch("/documents/<document_id>")
@requires("file")
def correct(document_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("body: a JSON object is required", code="invalid_json", field="body")
    return documents.update_metadata(runtime(), actor(), document_id, parse_patch(body))


def _required_file():
    spool = uploaded_spool("file")
    if spool is None:
        raise InvalidInput("file: a multipart part named `file` is required", code="missing_file", field="file")
    return spool


def _filename() -> str | None:
    storage = request.files.get("file")
    return storage.filename if storage is not None else None


def _chunks(stream):
    with stream:
        yield from iter(lambda: stream.read(256 * 1024), b"")


def _b64(checksum: str) -> str:
    import base64
    return base64.b64encode(bytes.fromhex(checksum.split(":", 1)[1])).decode()
