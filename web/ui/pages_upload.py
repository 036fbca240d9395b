"""Upload: one file or many with type, customer and order; a receipt per file (JSON for the script, HTML without)."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from archive import filing, overview
from archive.errors import ArchiveError
from archive.metadata import parse_filing
from web.context import actor, runtime
from web.ui.guard import bp, page


@bp.get("/upload")
@page(scope="file")
def upload():
    return render_template("upload.html", types=_types(), form={}, receipts=None)


@bp.post("/upload")
@page(scope="file")
def upload_post():
    metadata = parse_filing(_filing_fields())
    receipts = [_file_one(storage, metadata) for storage in request.files.getlist("file") if storage.filename]
    if not receipts:
        receipts = [{"filename": None, "error": "choose at least one file", "code": "missing_file"}]
    if request.accept_mimetypes.best == "application/json":
        status = 201 if any("id" in r for r in receipts) else 400
        return {"receipts": receipts}, status
    return render_template("upload.html", types=_types(), form=request.form, receipts=receipts)


def _file_one(storage, metadata) -> dict[str, Any]:
    try:
        receipt = filing.file_document(runtime(), storage.stream, metadata, actor(), filename=storage.filename,
                                       channel="ui")
    except ArchiveError as error:
        return {"filename": storage.filename, "error": error.message, "code": error.code}
    return {"filename": storage.filename, **receipt}


def _filing_fields() -> dict[str, Any]:
    form = request.form
    fields: dict[str, Any] = {"doc_type": form.get("doc_type", ""),
                              "customer": {"number": form.get("customer", "").strip()}}
    if form.get("customer_name", "").strip():
        fields["customer"]["name"] = form["customer_name"].strip()
    for name in ("title", "document_date", "external_reference"):
        if form.get(name, "").strip():
            fields[name] = form[name].strip()
    if form.get("order", "").strip():
        fields["order"] = {"number": form["order"].strip()}
    return fields


def _types() -> list[dict[str, str]]:
    rt = runtime()
    with rt.reading() as session:
        return overview.document_types(session)
