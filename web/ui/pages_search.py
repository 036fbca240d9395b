"""Search: the query language, facets, highlighted snippets, sort, pagination, CSV export, saved searches."""
from __future__ import annotations

import html
import re

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from search import service
from search.index import SORTS
from web.context import actor, runtime
from web.params import positive_int_param
from web.ui.guard import bp, notify, page

FACET_FILTERS = {"type": "type", "customer": "customer", "year": "date", "status": "status"}
_MARK = re.compile(r"(</?mark>)")


@bp.get("/search")
@page()
def search():
    q, sort = request.args.get("q", "").strip(), request.args.get("sort") or "relevance"
    results = None
    if q:
        results = service.search(runtime(), actor(), q, sort, request.args.get("cursor"),
                                 positive_int_param("limit", 20, service.MAX_PAGE))
    return render_template("search.html", q=q, sort=sort, sorts=SORTS, results=results,
                           saved=service.list_saved(runtime(), actor()), facet_filters=FACET_FILTERS)


@bp.get("/search/export.csv")
@page()
def search_export():
    rows = service.export_rows(runtime(), actor(), request.args.get("q", ""), request.args.get("sort") or "date_desc")
    first = next(rows)
    response = Response(_chain(first, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="search.csv"'
    return response


@bp.post("/search/saved")
@page()
def search_save():
    saved = service.save_search(runtime(), actor(), request.form.get("name", "").strip(), request.form.get("q", ""))
    notify(_("Saved search “%(name)s”.", name=saved["name"]), "ok")
    return redirect(url_for("ui.search", q=saved["query"]))


@bp.post("/search/saved/<saved_id>/delete")
@page()
def search_delete(saved_id: str):
    service.delete_saved(runtime(), actor(), saved_id)
    notify(_("Saved search deleted."), "ok")
    return redirect(url_for("ui.search"))


def safe_snippet(snippet: str) -> Markup:
    """Whatever a backend returns, only <mark> survives: every other piece is unescaped once and escaped again."""
    pieces = []
    for piece in _MARK.split(snippet or ""):
        pieces.append(Markup(piece) if piece in ("<mark>", "</mark>") else escape(html.unescape(piece)))
    opened = sum(1 for p in pieces if p == "<mark>") - sum(1 for p in pieces if p == "</mark>")
    return Markup("").join(pieces) + Markup("</mark>" * max(opened, 0))


@bp.app_template_filter("snippet")
def snippet_filter(snippet: str) -> Markup:
    return safe_snippet(snippet)


def _chain(first, rest):
    yield first
    yield from rest
