"""The review queue, and confirming a document's extracted fields."""
from __future__ import annotations

from flask import Blueprint, request

from archive import review
from archive.confirmation import confirm_fields
from archive.errors import InvalidInput
from web.auth import requires
from web.context import actor, runtime
from web.params import limit_param

bp = Blueprint("review", __name__)


@bp.get("/review")
@requires("read")
def queue():
    rt = runtime()
    with rt.transaction() as session:
        return review.list_queue(session, rt.clock, actor(), request.args.get("cursor") or None, limit_param())


@bp.post("/documents/<document_id>/confirm")
@requires("file")
def confirm(document_id: str):
    """Scope `file`: confirming changes what the archive holds about a document, like correcting its metadata."""
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise InvalidInput("body: a JSON object is required", code="invalid_json", field="body")
    return confirm_fields(runtime(), actor(), document_id, body)
