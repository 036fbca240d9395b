"""The review queue: documents that need a person, with the reason."""
from __future__ import annotations

from flask import render_template

from web.ui.guard import bp, page
from web.ui.review import review_items


@bp.get("/review")
@page()
def review():
    return render_template("review.html", items=review_items())
