"""The review queue: documents that need a person, with the reasons."""
from __future__ import annotations

from flask import render_template, request

from web.ui.guard import bp, page
from web.ui.review import review_queue


@bp.get("/review")
@page()
def review():
    return render_template("review.html", queue=review_queue(request.args.get("cursor") or None))
