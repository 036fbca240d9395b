"""Retention: the schedule, legal holds, what is due, and four-eyes disposition batches."""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import overview
from archive.errors import InvalidInput
from retention import disposition, holds
from retention.policies import schedule_of
from web.context import actor, runtime
from web.ui.guard import bp, notify, page


@bp.get("/retention")
@page(scope="audit")
def retention():
    rt = runtime()
    due = disposition.list_due(rt, actor(), "destroy", request.args.get("cursor") or "", 20)
    with rt.transaction() as session:
        batches = overview.list_batches(session, rt.clock, actor())
    return render_template("retention.html", schedule=schedule_of(rt), holds=holds.list_holds(rt, actor()),
                           due=due, batches=batches, placers=holds.PLACERS, releasers=holds.RELEASERS,
                           managers=disposition.MANAGERS)


@bp.post("/retention/holds")
@page(scope="audit")
def hold_place():
    hold = holds.place_hold(runtime(), actor(), {"scope": _scope(), "reason": request.form.get("reason", ""),
                                                 "case_reference": request.form.get("case_reference", "")})
    notify(_("Legal hold placed on %(count)s documents.", count=hold["document_count"]), "ok")
    return redirect(request.form.get("back") if _local(request.form.get("back")) else url_for("ui.retention"))


@bp.post("/retention/holds/<hold_id>/release")
@page(scope="audit")
def hold_release(hold_id: str):
    holds.release_hold(runtime(), actor(), hold_id, request.form.get("reason", ""))
    notify(_("Legal hold released."), "ok")
    return redirect(url_for("ui.retention"))


@bp.post("/retention/batches")
@page(scope="audit")
def batch_propose():
    batch = disposition.propose(runtime(), actor(), {"reason": request.form.get("reason") or None})
    notify(_("Disposition batch proposed with %(count)s documents.", count=batch["document_count"]), "ok")
    return redirect(url_for("ui.retention"))


@bp.post("/retention/batches/<batch_id>/approve")
@page(scope="audit")
def batch_approve(batch_id: str):
    disposition.approve(runtime(), actor(), batch_id)
    notify(_("Disposition batch approved."), "ok")
    return redirect(url_for("ui.retention"))


@bp.post("/retention/batches/<batch_id>/execute")
@page(scope="audit")
def batch_execute(batch_id: str):
    disposition.execute(runtime(), actor(), batch_id)
    notify(_("Disposition batch executed; the certificate is filed."), "ok")
    return redirect(url_for("ui.retention"))


def _scope() -> dict[str, Any]:
    form = request.form
    kind = form.get("scope", "")
    if kind == "documents":
        return {"documents": [i.strip() for i in form.get("documents", "").replace(",", " ").split() if i.strip()]}
    if kind == "order":
        return {"customer": form.get("customer", "").strip(), "order": form.get("order", "").strip()}
    if kind == "customer":
        return {"customer": form.get("customer", "").strip()}
    if kind == "saved_search":
        return {"saved_search": form.get("saved_search", "").strip()}
    raise InvalidInput("scope: documents, customer, order or saved_search", code="invalid_hold_scope", field="scope")


def _local(target: str | None) -> bool:
    return bool(target) and target.startswith("/") and not target.startswith("//") and "\\" not in target
