"""The audit journal: filtered reads and chain verification."""
from __future__ import annotations

from flask import Blueprint, request

from audit.queries import list_events, verify_and_record
from web.auth import requires
from web.context import actor, runtime
from web.params import cursor_param, datetime_param, limit_param

bp = Blueprint("audit", __name__)


@bp.get("/audit/events")
@requires("audit")
def events():
    rt = runtime()
    with rt.transaction() as session:
        return list_events(session, rt.clock, actor(), subject=request.args.get("subject"),
                           actor_name=request.args.get("actor"), action=request.args.get("action"),
                           since=datetime_param("since"), until=datetime_param("until"),
                           after_seq=cursor_param(), limit=limit_param())


@bp.get("/audit/verify")
@requires("audit")
def verify():
    rt = runtime()
    return verify_and_record(rt.sessions, rt.clock, actor()).as_dict()
