"""Search, CSV export for auditors, and saved searches."""
from __future__ import annotations

from flask import Blueprint, Response, request

from archive.errors import InvalidInput
from search import service
from web.auth import requires
from web.context import actor, runtime
from web.params import positive_int_param

bp = Blueprint("search", __name__)


@bp.get("/search")
@requires("read")
def search():
    return service.search(runtime(), actor(), _q(), request.args.get("sort") or "relevance",
                          request.args.get("cursor"), positive_int_param("limit", 20, service.MAX_PAGE))


@bp.get("/search/export")
@requires("read")
def export():
    rows = service.export_rows(runtime(), actor(), _q(), request.args.get("sort") or "date_desc")
    first = next(rows)  # parse errors surface here, as a 400, before the response starts
    response = Response(_chain(first, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="search.csv"'
    return response


@bp.get("/searches")
@requires("read")
def list_saved():
    return {"items": service.list_saved(runtime(), actor())}


@bp.post("/searches")
@requires("read")
def save():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("query"), str):
        raise InvalidInput("body: {\"name\", \"query\"} strings are required", code="invalid_json", field="body")
    return service.save_search(runtime(), actor(), body["name"], body["query"]), 201


@bp.delete("/searches/<saved_id>")
@requires("read")
def delete(saved_id: str):
    service.delete_saved(runtime(), actor(), saved_id)
    return "", 204


def _q() -> str:
    return request.args.get("q", "")


def _chain(first, rest):
    yield first
    yield from rest
