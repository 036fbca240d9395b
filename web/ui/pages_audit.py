"""Audit: the journal with filters, chain and checkpoint verification, evidence packages."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from archive.models import AuditCheckpoint
from audit import checkpoints
from audit.log import append
from audit.queries import list_events, verify_and_record
from web.context import actor, runtime
from web.downloads import evidence_package_response
from web.params import cursor_param, datetime_param, limit_param
from web.ui.guard import bp, page

FILTERS = ("actor", "action", "subject", "since", "until")


@bp.get("/audit")
@page(scope="audit")
def audit():
    rt = runtime()
    with rt.transaction() as session:
        journal = list_events(session, rt.clock, actor(), subject=_arg("subject"), actor_name=_arg("actor"),
                              action=_arg("action"), since=datetime_param("since"), until=datetime_param("until"),
                              after_seq=cursor_param(), limit=limit_param(50))
        latest = [checkpoints.checkpoint_view(c) for c in session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(5))]
        append(session, rt.clock, actor(), "audit.checkpoints_listed", None, {"count": len(latest)})
    return render_template("audit.html", journal=journal, checkpoints=latest, report=None,
                           filters={name: request.args.get(name, "") for name in FILTERS})


@bp.get("/audit/verify")
@page(scope="audit")
def audit_verify():
    report = verify_and_record(runtime(), actor()).as_dict()
    return render_template("audit_verify.html", report=report)


@bp.get("/audit/export.zip")
@page(scope="audit")
def audit_export():
    return evidence_package_response(_arg("customer"), _arg("order"), _arg("query"))


def _arg(name: str) -> str | None:
    return request.args.get(name, "").strip() or None
