"""Home: what needs attention."""
from __future__ import annotations

from flask import render_template

from archive import overview
from retention.policies import schedule_of
from web.context import actor, runtime
from web.ui.guard import bp, page
from web.ui.review import review_queue


@bp.get("/")
@page()
def home():
    rt = runtime()
    with rt.transaction() as session:
        summary = overview.attention(session, rt.clock, actor(), schedule_of(rt).keys_with_action("destroy"))
    return render_template("home.html", summary=summary, queue=review_queue(limit=10))
