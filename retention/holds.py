"""Legal holds: they block disposition whatever retention says, until a records manager releases them.

Who is held is materialised in `legal_hold_documents`, and `documents.held` mirrors "in at least one active hold"
(the search index shows such documents with status `on_hold`). Documents filed while a hold is active join it:
  - customer and order holds, at filing, in the filing transaction (`catch_new`);
  - saved-search holds, at disposition time (`refresh_saved_search_holds`, run before anything is listed as due,
    proposed or destroyed), because whether a document matches is only known once it is processed and indexed.
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from archive.clock import isoformat
from archive.customers import find_customer, find_order
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.models import Document, SavedSearch
from archive.models_retention import LegalHold, LegalHoldDocument
from archive.outbox import enqueue
from archive.runtime import Runtime
from audit.log import Actor, append

PLACERS = ("records_manager", "admin")
RELEASERS = ("records_manager",)
SCOPES = ("documents", "customer", "order", "saved_search")
CHUNK = 1000


def require_role(actor: Actor, roles: tuple[str, ...], what: str) -> None:
    if actor.role not in roles and actor.role != "system":
        raise Forbidden(f"{what} needs the role {' or '.join(roles)}", code="role_required", roles=list(roles))


def place_hold(rt: Runtime, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    require_role(actor, PLACERS, "placing a legal hold")
    reason, case_reference = _required_text(body, "reason"), _required_text(body, "case_reference")
    scope = body.get("scope")
    if not isinstance(scope, dict):
        raise InvalidInput("scope: an object is required", code="invalid_hold_scope", field="scope")
    saved_ids = _saved_search_matches(rt, scope) if "saved_search" in scope else None
    with rt.transaction() as session:
        hold = _new_hold(session, rt, actor, scope, reason, case_reference)
        ids = saved_ids if saved_ids is not None else _scope_ids(session, hold, scope)
        added = add_documents(session, rt, hold.id, ids)
        append(session, rt.clock, actor, "hold.placed", f"hold:{hold.id}",
               {"scope": _scope_view(session, hold), "reason": reason, "case_reference": case_reference,
                "documents": added})
        view = hold_view(session, hold)
    rt.work_committed()
    return view


def _new_hold(session: Session, rt: Runtime, actor: Actor, scope: dict[str, Any], reason: str,
              case_reference: str) -> LegalHold:
    kinds = [k for k in ("documents", "saved_search") if k in scope] or (["order"] if "order" in scope else [])
    kinds = kinds or (["customer"] if "customer" in scope else [])
    if len(kinds) != 1 or set(scope) - {"documents", "customer", "order", "saved_search"} or \
            ("order" in scope and "customer" not in scope):
        raise InvalidInput("scope: one of {documents}, {customer}, {customer, order}, {saved_search}",
                           code="invalid_hold_scope", field="scope")
    hold = LegalHold(scope=kinds[0], reason=reason, case_reference=case_reference, placed_at=rt.clock(),
                     placed_by=actor.name)
    if kinds[0] in ("customer", "order"):
        customer = find_customer(session, str(scope["customer"]))
        hold.customer_id = customer.id
        hold.order_id = find_order(session, customer, str(scope["order"])).id if kinds[0] == "order" else None
    if kinds[0] == "saved_search":
        saved = session.get(SavedSearch, str(scope["saved_search"]))
        hold.saved_search_id, hold.query = saved.id, saved.query
    session.add(hold)
    session.flush()
    return hold


def _scope_ids(session: Session, hold: LegalHold, scope: dict[str, Any]) -> list[str]:
    if hold.scope == "documents":
        ids = scope["documents"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise InvalidInput("scope.documents: a non-empty list of document ids", code="invalid_hold_scope",
                               field="scope.documents")
        found = set(session.scalars(select(Document.id).where(Document.id.in_(ids))))
        missing = sorted(set(ids) - found)
        if missing:
            raise NotFound(f"no documents {', '.join(missing[:10])}", code="document_not_found", missing=missing)
        return list(dict.fromkeys(ids))
    column = Document.order_id if hold.scope == "order" else Document.customer_id
    return list(session.scalars(select(Document.id).where(column == (hold.order_id or hold.customer_id))))


def _saved_search_matches(rt: Runtime, scope: dict[str, Any]) -> list[str]:
    with rt.reading() as session:
        saved = session.get(SavedSearch, str(scope["saved_search"]))
        if saved is None:
            raise NotFound(f"no saved search {scope['saved_search']}", code="saved_search_not_found")
        return matching_ids(rt, saved.query)


def matching_ids(rt: Runtime, q: str) -> list[str]:
    """Every document the query finds in the search index, as the system sees it (restricted ones included)."""
    from search.index import MAX_PAGE, Query
    from search.service import build_query
    query, ids = build_query(Actor.system(), q, "date_asc", limit=MAX_PAGE, facets=False), []
    while True:
        page = rt.search.search(query)
        ids += [hit.id for hit in page.hits]
        if page.next_cursor is None:
            return ids
        query = Query(query.root, query.sort, query.limit, page.next_cursor, False, True)


def add_documents(session: Session, rt: Runtime, hold_id: str, ids: Iterable[str]) -> int:
    """Adds the documents not in the hold yet; marks them held and re-indexes them. Returns how many joined."""
    ids, added = list(ids), 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        present = set(session.scalars(select(LegalHoldDocument.document_id).where(
            LegalHoldDocument.hold_id == hold_id, LegalHoldDocument.document_id.in_(chunk))))
        new = [i for i in chunk if i not in present]
        if new:
            session.execute(insert(LegalHoldDocument), [{"hold_id": hold_id, "document_id": i,
                                                         "added_at": rt.clock()} for i in new])
            _mark(session, rt, new)
        added += len(new)
    return added


def _mark(session: Session, rt: Runtime, ids: list[str]) -> None:
    held = exists().where(LegalHoldDocument.document_id == Document.id,
                          LegalHoldDocument.hold_id == LegalHold.id, LegalHold.released_at.is_(None))
    session.execute(update(Document).where(Document.id.in_(ids)).values(held=held)
                    .execution_options(synchronize_session=False))
    for document_id in ids:
        enqueue(session, rt.clock, "search.index", {"document_id": document_id})


_COVERING = select(LegalHold.id).where(LegalHold.released_at.is_(None)).where(
    ((LegalHold.scope == "customer") & (LegalHold.customer_id == bindparam("customer_id")))
    | ((LegalHold.scope == "order") & (LegalHold.order_id == bindparam("order_id"))))


def catch_new(session: Session, rt: Runtime, document: Document) -> list[dict[str, Any]]:
    """At filing: an active customer or order hold covering the new document takes it in.

    Sets `document.held` and returns the `legal_hold_documents` rows for the caller to insert with the document.
    """
    hold_ids = session.connection().execute(_COVERING, {"customer_id": document.customer_id,
                                                       "order_id": document.order_id}).scalars().all()
    document.held = bool(hold_ids)
    return [{"hold_id": hold_id, "document_id": document.id, "added_at": rt.clock()} for hold_id in hold_ids]


def refresh_saved_search_holds(rt: Runtime, actor: Actor) -> int:
    """Before disposition: documents that match an active saved-search hold now join it. Returns how many."""
    with rt.reading() as session:
        holds = [(h.id, h.query) for h in session.scalars(select(LegalHold).where(
            LegalHold.released_at.is_(None), LegalHold.scope == "saved_search"))]
    joined = 0
    for hold_id, q in holds:
        ids = matching_ids(rt, q)
        with rt.transaction() as session:
            added = add_documents(session, rt, hold_id, ids)
            if added:
                append(session, rt.clock, actor, "hold.extended", f"hold:{hold_id}", {"documents": added})
        joined += added
    if joined:
        rt.work_committed()
    return joined


def release_hold(rt: Runtime, actor: Actor, hold_id: str, reason: Any) -> dict[str, Any]:
    require_role(actor, RELEASERS, "releasing a legal hold")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason: required to release a hold", code="missing_field", field="reason")
    with rt.transaction() as session:
        hold = _load(session, hold_id)
        if hold.released_at is not None:
            raise Conflict(f"hold {hold_id} was released already", code="hold_released")
        hold.released_at, hold.released_by, hold.release_reason = rt.clock(), actor.name, reason
        session.flush()
        ids = list(session.scalars(select(LegalHoldDocument.document_id).where(LegalHoldDocument.hold_id == hold_id)))
        for start in range(0, len(ids), CHUNK):
            _mark(session, rt, ids[start:start + CHUNK])
        append(session, rt.clock, actor, "hold.released", f"hold:{hold_id}",
               {"reason": reason, "case_reference": hold.case_reference, "documents": len(ids)})
        view = hold_view(session, hold)
    rt.work_committed()
    return view


def list_holds(rt: Runtime, actor: Actor, active_only: bool = False) -> list[dict[str, Any]]:
    with rt.transaction() as session:
        query = select(LegalHold).order_by(LegalHold.placed_at.desc())
        if active_only:
            query = query.where(LegalHold.released_at.is_(None))
        views = [hold_view(session, h) for h in session.scalars(query)]
        append(session, rt.clock, actor, "hold.listed", None, {"returned": len(views)})
        return views


def show_hold(rt: Runtime, actor: Actor, hold_id: str) -> dict[str, Any]:
    with rt.transaction() as session:
        hold = _load(session, hold_id)
        documents = list(session.scalars(select(LegalHoldDocument.document_id)
                                         .where(LegalHoldDocument.hold_id == hold_id)
                                         .order_by(LegalHoldDocument.document_id)))
        append(session, rt.clock, actor, "hold.viewed", f"hold:{hold_id}")
        return {**hold_view(session, hold), "documents": documents}


def hold_view(session: Session, hold: LegalHold) -> dict[str, Any]:
    count = session.query(LegalHoldDocument).filter(LegalHoldDocument.hold_id == hold.id).count()
    return {"id": hold.id, "status": "released" if hold.released_at else "active",
            "scope": _scope_view(session, hold), "reason": hold.reason, "case_reference": hold.case_reference,
            "placed_at": isoformat(hold.placed_at), "placed_by": hold.placed_by,
            "released_at": isoformat(hold.released_at), "released_by": hold.released_by,
            "release_reason": hold.release_reason, "document_count": count}


def _scope_view(session: Session, hold: LegalHold) -> dict[str, Any]:
    from archive.models import Customer, Order
    if hold.scope == "documents":
        return {"documents": True}
    if hold.scope == "saved_search":
        return {"saved_search": hold.saved_search_id, "query": hold.query}
    view = {"customer": session.get(Customer, hold.customer_id).number}
    return {**view, "order": session.get(Order, hold.order_id).number} if hold.order_id else view


def _load(session: Session, hold_id: str) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}", code="hold_not_found")
    return hold


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise InvalidInput(f"{name}: required text (up to 2000 characters)", code="missing_field", field=name)
    return value
