"""Retention: what is due, legal holds, and four-eyes disposition batches. Roles are checked by the services."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from archive.errors import InvalidInput
from retention import disposition, erasure, holds, review
from web.auth import requires
from web.context import actor, runtime
from web.params import limit_param

bp = Blueprint("retention", __name__)


@bp.get("/retention/due")
@requires("audit")
def due():
    return disposition.list_due(runtime(), actor(), request.args.get("action") or "destroy",
                                request.args.get("cursor") or "", limit_param())


@bp.post("/retention/review")
@requires("audit")
def decide_review():
    return review.decide(runtime(), actor(), _body())


@bp.post("/holds")
@requires("audit")
def place_hold():
    hold = holds.place_hold(runtime(), actor(), _body())
    return hold, 201, {"Location": url_for("retention.show_hold", hold_id=hold["id"])}


@bp.get("/holds")
@requires("audit")
def list_holds():
    return {"items": holds.list_holds(runtime(), actor(), request.args.get("status") == "active")}


@bp.get("/holds/<hold_id>")
@requires("audit")
def show_hold(hold_id: str):
    return holds.show_hold(runtime(), actor(), hold_id)


@bp.post("/holds/<hold_id>/release")
@requires("audit")
def release_hold(hold_id: str):
    return holds.release_hold(runtime(), actor(), hold_id, _body().get("reason"))


@bp.post("/disposition-batches")
@requires("audit")
def propose():
    batch = disposition.propose(runtime(), actor(), _body(optional=True))
    return batch, 201, {"Location": url_for("retention.show_batch", batch_id=batch["id"])}


@bp.get("/disposition-batches/<batch_id>")
@requires("audit")
def show_batch(batch_id: str):
    return disposition.show_batch(runtime(), actor(), batch_id)


@bp.post("/disposition-batches/<batch_id>/approve")
@requires("audit")
def approve(batch_id: str):
    return disposition.approve(runtime(), actor(), batch_id)


@bp.post("/disposition-batches/<batch_id>/execute")
@requires("audit")
def execute(batch_id: str):
    return disposition.execute(runtime(), actor(), batch_id)


@bp.post("/erasure-requests")
@requires("audit")
def record_erasure_request():
    recorded = erasure.record_request(runtime(), actor(), _body())
    return recorded, 201, {"Location": url_for("retention.show_erasure_request", request_id=recorded["id"])}


@bp.get("/erasure-requests")
@requires("audit")
def list_erasure_requests():
    return {"items": erasure.list_requests(runtime(), actor(), request.args.get("customer") or None)}


@bp.get("/erasure-requests/<request_id>")
@requires("audit")
def show_erasure_request(request_id: str):
    return erasure.show_request(runtime(), actor(), request_id)


@bp.get("/erasure-requests/<request_id>/report")
@requires("audit")
def erasure_report(request_id: str):
    return erasure.report(runtime(), actor(), request_id)


def _body(optional: bool = False) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and optional and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise InvalidInput("body: a JSON object is required", code="invalid_json", field="body")
    return body
