"""GDPR art. 17 erasure requests, weighed against legal retention (art. 17(3)(b): a legal obligation to keep).

Recording a request sorts each of the customer's documents:
  - still under an obligation (retain_until in the future or not known yet, or a legal hold): `restricted`, so only
    records managers and auditors read it (archive/access.py), and due for destruction at expiry whatever its class
    says (retention/disposition.py `due_query`);
  - under no obligation any more: proposed at once in a disposition batch linked to the request, which a second
    records manager must approve (four eyes) before it is executed;
  - disposed already: reported with its certificate.
The report is computed when asked, so it shows what happened since: batches proposed, executed, holds released.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from archive.access import may_read_restricted
from archive.clock import isoformat
from archive.customers import find_customer
from archive.errors import Forbidden, InvalidInput, NotFound
from archive.models import Customer, Document
from archive.models_retention import DispositionBatch, DispositionItem, ErasureRequest, ErasureRequestDocument
from archive.outbox import enqueue
from archive.runtime import Runtime
from audit.log import Actor, append, append_many
from retention.holds import refresh_saved_search_holds, require_role
from retention.policies import record_schedule, schedule_of

RECORDERS = ("records_manager",)
CHUNK = 1000
FIELDS = {"customer", "requester", "legal_ground", "reference"}


def record_request(rt: Runtime, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    require_role(actor, RECORDERS, "recording an erasure request")
    fields = _parse(body)
    record_schedule(rt, actor)
    refresh_saved_search_holds(rt, actor)
    today = rt.clock().date()
    with rt.transaction() as session:
        customer = find_customer(session, fields["customer"])
        request = ErasureRequest(customer_id=customer.id, requester=fields["requester"],
                                 legal_ground=fields["legal_ground"], reference=fields.get("reference"),
                                 recorded_at=rt.clock(), recorded_by=actor.name)
        session.add(request)
        session.flush()
        found = _sort(session, customer.id, today)
        _link(session, request.id, found)
        _restrict(session, rt, actor, request.id, found["restricted"] + found["held"])
        counts = {state: len(ids) for state, ids in found.items()}
        append(session, rt.clock, actor, "erasure.requested", f"erasure_request:{request.id}",
               {"customer": customer.number, "requester": request.requester, "legal_ground": request.legal_ground,
                "reference": request.reference, "documents": counts})
        if found["proposed"]:
            request.batch_id = _propose(session, rt, actor, request, found["proposed"])
        view = request_view(request, customer.number, sum(counts.values()))
    rt.work_committed()
    return view


def _parse(body: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", code="unknown_field", field=unknown[0])
    fields = {}
    for name, limit in (("customer", 200), ("requester", 500), ("legal_ground", 2000), ("reference", 200)):
        value = body.get(name)
        if value is None and name == "reference":
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InvalidInput(f"{name}: required text (up to {limit} characters)", code="missing_field", field=name)
        fields[name] = value.strip()
    return fields


def _sort(session: Session, customer_id: str, today) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"restricted": [], "held": [], "proposed": [], "disposed": []}
    rows = session.execute(select(Document.id, Document.status, Document.held, Document.retain_until)
                           .where(Document.customer_id == customer_id).order_by(Document.id))
    for row in rows:
        if row.status == "disposed":
            found["disposed"].append(row.id)
        elif row.held:
            found["held"].append(row.id)
        elif row.retain_until is None or row.retain_until >= today:
            found["restricted"].append(row.id)
        else:
            found["proposed"].append(row.id)
    return found


def _link(session: Session, request_id: str, found: dict[str, list[str]]) -> None:
    rows = [{"request_id": request_id, "document_id": i, "found": state} for state, ids in found.items() for i in ids]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(ErasureRequestDocument), rows[start:start + CHUNK])


def _restrict(session: Session, rt: Runtime, actor: Actor, request_id: str, ids: list[str]) -> None:
    """Flags them, re-indexes them (search hides restricted hits), and audits each one."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        session.execute(update(Document).where(Document.id.in_(chunk)).values(restricted=True)
                        .execution_options(synchronize_session=False))
        append_many(session, rt.clock, actor, [("document.restricted", f"document:{i}",
                                                {"erasure_request": request_id}) for i in chunk])
        for document_id in chunk:
            enqueue(session, rt.clock, "search.index", {"document_id": document_id})


def _propose(session: Session, rt: Runtime, actor: Actor, request: ErasureRequest, ids: list[str]) -> str:
    schedule = schedule_of(rt)
    reason = f"GDPR art. 17 erasure request {request.id}"
    batch = DispositionBatch(status="proposed", reason=reason, schedule=schedule.name, document_count=len(ids),
                             schedule_hash=schedule.content_hash, proposed_at=rt.clock(), proposed_by=actor.name,
                             erasure_request_id=request.id)
    session.add(batch)
    session.flush()
    for start in range(0, len(ids), CHUNK):
        session.execute(insert(DispositionItem), [{"batch_id": batch.id, "document_id": i}
                                                  for i in ids[start:start + CHUNK]])
    append(session, rt.clock, actor, "disposition.proposed", f"disposition:{batch.id}",
           {"documents": len(ids), "schedule": schedule.name, "schedule_hash": schedule.content_hash,
            "reason": reason, "erasure_request": request.id})
    return batch.id


def list_requests(rt: Runtime, actor: Actor, customer: str | None = None) -> list[dict[str, Any]]:
    _require_reader(actor)
    with rt.transaction() as session:
        query = (select(ErasureRequest, Customer.number).join(Customer, Customer.id == ErasureRequest.customer_id)
                 .order_by(ErasureRequest.recorded_at.desc(), ErasureRequest.id.desc()))
        if customer:
            query = query.where(Customer.number == customer)
        views = [request_view(r, number, _count(session, r.id)) for r, number in session.execute(query)]
        append(session, rt.clock, actor, "erasure.listed", None, {"customer": customer, "returned": len(views)})
        return views


def show_request(rt: Runtime, actor: Actor, request_id: str) -> dict[str, Any]:
    _require_reader(actor)
    with rt.transaction() as session:
        request, number = _load(session, request_id)
        append(session, rt.clock, actor, "erasure.viewed", f"erasure_request:{request_id}")
        return request_view(request, number, _count(session, request_id))


def request_view(request: ErasureRequest, customer_number: str, documents: int) -> dict[str, Any]:
    return {"id": request.id, "customer": customer_number, "requester": request.requester,
            "legal_ground": request.legal_ground, "reference": request.reference,
            "recorded_at": isoformat(request.recorded_at), "recorded_by": request.recorded_by,
            "batch": request.batch_id, "document_count": documents}


def _count(session: Session, request_id: str) -> int:
    return session.query(ErasureRequestDocument).filter(ErasureRequestDocument.request_id == request_id).count()


def _require_reader(actor: Actor) -> None:
    if not may_read_restricted(actor):
        raise Forbidden("erasure requests are read by records managers and auditors", code="role_required",
                        roles=["records_manager", "auditor"])


def _load(session: Session, request_id: str) -> tuple[ErasureRequest, str]:
    request = session.get(ErasureRequest, request_id)
    if request is None:
        raise NotFound(f"no erasure request {request_id}", code="erasure_request_not_found")
    return request, session.get(Customer, request.customer_id).number


def report(rt: Runtime, actor: Actor, request_id: str) -> dict[str, Any]:
    """Where each document of the request stands now."""
    from retention.erasure_report import document_states
    _require_reader(actor)
    with rt.transaction() as session:
        request, number = _load(session, request_id)
        documents = document_states(session, request_id, rt.clock().date())
        summary: dict[str, int] = {}
        for entry in documents:
            summary[entry["state"]] = summary.get(entry["state"], 0) + 1
        append(session, rt.clock, actor, "erasure.report_viewed", f"erasure_request:{request_id}",
               {"summary": summary})
        return {"request": request_view(request, number, len(documents)), "generated_at": isoformat(rt.clock()),
                "summary": summary, "documents": documents}
