"""Documents whose class says `review` at expiry: a records manager decides, per document, to keep or dispose.

  keep     retain_until moves to a later date (it only grows), the rule records who decided, when and why;
           the document leaves the review list until that date. Audited `retention.review_kept`.
  dispose  the documents go into a disposition batch proposed by the decider, which a different records manager
           approves (four eyes) before it is executed. Audited `retention.review_disposal_proposed`.

The list is `GET /api/v1/retention/due?action=review` (`archive retention review list`). The normal proposal path
never takes review documents; execution accepts them only from a batch a decision proposed.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select

from archive.errors import Conflict, InvalidInput
from archive.models import Document
from archive.models_retention import DispositionBatch, DispositionItem
from archive.runtime import Runtime
from audit.log import Actor, append, append_many
from retention.disposition import MANAGERS, batch_view, due_query
from retention.holds import refresh_saved_search_holds, require_role
from retention.policies import record_schedule, schedule_of

MAX_DOCUMENTS = 10_000


def decide(rt: Runtime, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    require_role(actor, MANAGERS, "deciding on documents due for review")
    ids, decision, reason, keep_until = _parse(body, rt.clock().date())
    record_schedule(rt, actor)
    refresh_saved_search_holds(rt, actor)
    with rt.transaction() as session:
        reviewable = set(session.scalars(due_query(rt, rt.clock().date(), "review").where(Document.id.in_(ids))))
        refused = [i for i in ids if i not in reviewable]
        if refused:
            raise Conflict(f"{len(refused)} documents are not due for review (retention not over, held, disposed, "
                           "restricted or not `review` at expiry)", code="not_due_for_review", documents=refused[:100])
        if decision == "keep":
            return _keep(session, rt, actor, ids, reason, keep_until)
        return _propose(session, rt, actor, ids, reason)


def _parse(body: dict[str, Any], today: date) -> tuple[list[str], str, str, date | None]:
    ids = body.get("documents")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_DOCUMENTS or \
            not all(isinstance(i, str) for i in ids):
        raise InvalidInput(f"documents: a list of 1 to {MAX_DOCUMENTS} document ids", code="invalid_parameter",
                           field="documents")
    decision, reason = body.get("decision"), body.get("reason")
    if decision not in ("keep", "dispose"):
        raise InvalidInput("decision: keep or dispose", code="invalid_parameter", field="decision")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        raise InvalidInput("reason: required text (up to 2000 characters)", code="missing_field", field="reason")
    keep_until = None
    if decision == "keep":
        try:
            keep_until = date.fromisoformat(body.get("keep_until") or "")
        except (TypeError, ValueError):
            raise InvalidInput("keep_until: YYYY-MM-DD, required to keep", code="invalid_parameter",
                               field="keep_until") from None
        if keep_until <= today:
            raise InvalidInput("keep_until: a date after today", code="invalid_parameter", field="keep_until")
    elif "keep_until" in body:
        raise InvalidInput("keep_until: only with decision keep", code="invalid_parameter", field="keep_until")
    return list(dict.fromkeys(ids)), decision, reason.strip(), keep_until


def _keep(session, rt: Runtime, actor: Actor, ids: list[str], reason: str, until: date) -> dict[str, Any]:
    today, entries = rt.clock().date(), []
    for document in session.scalars(select(Document).where(Document.id.in_(ids)).order_by(Document.id)):
        old = document.retain_until
        document.retain_until = until  # later than today, so later than the expired date: it only grows
        document.retention_rule = (f"{document.retention_rule}; reviewed {today.isoformat()} by {actor.name}: "
                                   f"kept until {until.isoformat()} ({reason})")[:4000]
        entries.append(("retention.review_kept", f"document:{document.id}",
                        {"old_retain_until": old.isoformat(), "new_retain_until": until.isoformat(),
                         "reason": reason}))
    append_many(session, rt.clock, actor, entries)
    return {"decision": "keep", "documents": len(entries), "keep_until": until.isoformat(), "batch": None}


def _propose(session, rt: Runtime, actor: Actor, ids: list[str], reason: str) -> dict[str, Any]:
    schedule = schedule_of(rt)
    batch = DispositionBatch(status="proposed", reason=f"review: {reason}", schedule=schedule.name,
                             schedule_hash=schedule.content_hash, document_count=len(ids), proposed_at=rt.clock(),
                             proposed_by=actor.name)
    session.add(batch)
    session.flush()
    session.execute(insert(DispositionItem), [{"batch_id": batch.id, "document_id": i} for i in ids])
    append_many(session, rt.clock, actor, [("retention.review_disposal_proposed", f"document:{i}",
                                            {"batch": batch.id, "reason": reason}) for i in ids])
    append(session, rt.clock, actor, "disposition.proposed", f"disposition:{batch.id}",
           {"documents": len(ids), "schedule": schedule.name, "schedule_hash": schedule.content_hash,
            "reason": batch.reason, "from_review": True})
    return {"decision": "dispose", "documents": len(ids), "keep_until": None, "batch": batch_view(batch)}
