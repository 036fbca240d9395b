"""A document: preview, metadata and extracted fields, versions, relations, retention, holds, audit history."""
from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import documents, filing, overview, previews
from archive.confirmation import confirm_fields
from archive.errors import InvalidInput
from archive.metadata import parse_patch
from audit.queries import list_events
from web.context import actor, runtime
from web.downloads import content_disposition
from web.params import positive_int_param
from web.ui.guard import bp, notify, may_read, page
from web.uploads import uploaded_spool

PREVIEW_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'; sandbox"
EDITABLE = ("doc_type", "title", "document_date", "external_reference", "order")


@bp.get("/documents/<document_id>")
@page()
def document(document_id: str):
    rt = runtime()
    view = documents.show_document(rt, actor(), document_id)  # refuses restricted documents to other roles
    with rt.transaction() as session:
        extraction = overview.document_suggestion(session, document_id)
        holds = overview.document_holds(session, document_id)
        types = overview.document_types(session)
        history = list_events(session, rt.clock, actor(), subject=f"document:{document_id}",
                              limit=50) if may_read("audit") else None
    preview = previews.preview_kind(view["mime_type"])
    pages = previews.page_count(rt, actor(), document_id) \
        if preview == "pdf" and view["retention"]["status"] != "disposed" else None
    return render_template("document.html", doc=view, extraction=extraction, holds=holds, history=history,
                           preview=preview, pages=pages, types=types,
                           confirmable=overview.CONFIRMABLE, nested=overview.CONFIRMABLE_NESTED, form_value=overview.form_value)


@bp.get("/documents/<document_id>/preview")
@page()
def document_preview(document_id: str):
    content = previews.open_preview(runtime(), actor(), document_id, positive_int_param("version"))
    response = Response(_chunks(content.stream), mimetype=content.mime_type, direct_passthrough=True)
    response.headers.update({"Content-Length": str(content.size), "Content-Security-Policy": PREVIEW_CSP,
                             "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store",
                             "Content-Disposition": "inline"})
    return response


@bp.get("/documents/<document_id>/thumbnail.png")
@page()
def document_thumbnail(document_id: str):
    data = previews.thumbnail_png(runtime(), actor(), document_id, positive_int_param("version"))
    return Response(data, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.get("/documents/<document_id>/pages/<int:number>.png")
@page()
def document_page(document_id: str, number: int):
    data = previews.page_png(runtime(), actor(), document_id, positive_int_param("version"), number)
    return Response(data, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.get("/documents/<document_id>/download")
@page()
def document_download(document_id: str):
    stored = documents.open_content(runtime(), actor(), document_id, positive_int_param("version"))
    response = Response(_chunks(stored.stream), mimetype=stored.mime_type, direct_passthrough=True)
    response.headers.update({"Content-Length": str(stored.size), "Cache-Control": "private, no-store",
                             "Content-Disposition": content_disposition(stored.filename, stored.document_id,
                                                                        stored.mime_type)})
    return response


@bp.post("/documents/<document_id>/versions")
@page(scope="file")
def document_new_version(document_id: str):
    spool = uploaded_spool("file")
    if spool is None:
        raise InvalidInput("file: choose a file", code="missing_file", field="file")
    receipt = filing.add_version(runtime(), document_id, spool, actor(), filename=request.files["file"].filename,
                                 reason=request.form.get("reason") or None)
    notify(_("Version %(number)s filed (%(checksum)s).", number=receipt["version"], checksum=receipt["checksum"]),
          "ok")
    return redirect(url_for("ui.document", document_id=document_id))


@bp.post("/documents/<document_id>/metadata")
@page(scope="file")
def document_correct(document_id: str):
    changes = {name: request.form[name].strip() for name in EDITABLE if name in request.form}
    body = {k: (v or None) for k, v in changes.items() if k != "order"}
    if "order" in changes:
        body["order"] = {"number": changes["order"]} if changes["order"] else None
    documents.update_metadata(runtime(), actor(), document_id, parse_patch(body))
    notify(_("Metadata corrected."), "ok")
    return redirect(url_for("ui.document", document_id=document_id))


@bp.post("/documents/<document_id>/confirm")
@page(scope="file")
def document_confirm(document_id: str):
    """The same service as `POST /api/v1/documents/{id}/confirm`, with the corrections the person made."""
    rt = runtime()
    with rt.reading() as session:
        body = overview.confirmation_body(session, document_id, request.form.to_dict())
    result = confirm_fields(rt, actor(), document_id, body)
    notify(_("Extracted fields confirmed; %(n)s corrected.", n=len(result["changes"])), "ok")
    return redirect(url_for("ui.document", document_id=document_id))


def _chunks(stream):
    with stream:
        yield from iter(lambda: stream.read(256 * 1024), b"")
