"""The audit journal: filtered reads and chain verification."""
from __future__ import annotations

from flask import Blueprint, request

from sqlalchemy import select

from archive.errors import InvalidInput
from archive.models import AuditCheckpoint
from audit import checkpoints, signing
from audit.log import append
from audit.queries import list_events, verify_and_record
from web.auth import requires
from web.context import actor, runtime
from web.params import cursor_param, datetime_param, limit_param, positive_int_param

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


@bp.get("/audit/events/<int:seq>/proof")
@requires("audit")
def proof(seq: int):
    rt = runtime()
    with rt.reading() as session:
        result = checkpoints.inclusion(session, seq, positive_int_param("checkpoint"))
    _record(rt, "audit.proof_served", f"audit_event:{seq}", {"tree_size": result["tree_size"]})
    return result


@bp.get("/audit/checkpoints")
@requires("audit")
def list_checkpoints():
    rt = runtime()
    with rt.reading() as session:
        items = [checkpoints.checkpoint_view(c) for c in session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(limit_param()))]
    _record(rt, "audit.checkpoints_listed", None, {"count": len(items)})
    return {"items": items}


@bp.get("/audit/checkpoints/consistency")
@requires("audit")
def consistency():
    rt = runtime()
    old, new = positive_int_param("from"), positive_int_param("to")
    if old is None or new is None:
        raise InvalidInput("`from` and `to` checkpoint ids are required", code="missing_parameter")
    with rt.reading() as session:
        result = checkpoints.consistency(session, old, new)
    _record(rt, "audit.consistency_served", None, {"from": old, "to": new})
    return result


@bp.get("/audit/keys")
def keys():
    """Public keys are public: an auditor fetches them without a token, to check signatures independently."""
    rt = runtime()
    with rt.reading() as session:
        return {"keys": signing.public_keys(session)}


@bp.get("/audit/verify")
@requires("audit")
def verify():
    rt = runtime()
    return verify_and_record(rt, actor()).as_dict()


def _record(rt, action: str, subject: str | None, details: dict) -> None:
    with rt.transaction() as session:
        append(session, rt.clock, actor(), action, subject, details)
