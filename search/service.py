"""Searching as a service: parse, apply what the caller may see, ask the index, record the read."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import select

from archive.access import may_read_restricted
from archive.clock import isoformat
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import SavedSearch
from archive.runtime import Runtime
from audit.log import Actor, append
from search.index import MAX_PAGE, SORTS, Hit, Page, Query
from search.query import parse

EXPORT_MAX_ROWS = 100_000
CSV_COLUMNS = ("id", "doc_type", "customer", "order", "title", "document_date", "filed_at", "amount", "currency",
               "status", "score")


def build_query(actor: Actor, q: str, sort: str = "relevance", cursor: str | None = None, limit: int = 20,
                facets: bool = True) -> Query:
    if sort not in SORTS:
        raise InvalidInput(f"sort: must be one of {', '.join(SORTS)}", code="invalid_parameter", field="sort")
    return Query(parse(q), sort=sort, limit=max(1, min(limit, MAX_PAGE)), cursor=cursor or None, facets=facets,
                 visible_restricted=may_read_restricted(actor))


def search(rt: Runtime, actor: Actor, q: str, sort: str = "relevance", cursor: str | None = None,
           limit: int = 20) -> dict[str, Any]:
    page = rt.search.search(build_query(actor, q, sort, cursor, limit))
    with rt.transaction() as session:
        append(session, rt.clock, actor, "search.performed", None,
               {"query": q, "sort": sort, "total": page.total, "returned": len(page.hits)})
    return page_view(page)


def page_view(page: Page) -> dict[str, Any]:
    return {"total": page.total, "total_relation": "eq" if page.total_is_exact else "gte",
            "hits": [hit_view(h) for h in page.hits], "facets": page.facets, "next_cursor": page.next_cursor}


def hit_view(hit: Hit) -> dict[str, Any]:
    values = asdict(hit)
    values["customer"] = values.pop("customer_number")
    values["order"] = values.pop("order_number")
    values["document_date"] = hit.document_date.isoformat() if hit.document_date else None
    values["filed_at"] = isoformat(hit.filed_at)
    values["amount"] = str(hit.amount) if isinstance(hit.amount, Decimal) else hit.amount
    return values


def export_rows(rt: Runtime, actor: Actor, q: str, sort: str = "date_desc") -> Iterator[str]:
    """CSV of every hit (up to EXPORT_MAX_ROWS), page by page; spreadsheet formulas are neutralised."""
    query, rows = build_query(actor, q, sort, limit=MAX_PAGE, facets=False), 0
    yield _csv_line(CSV_COLUMNS)
    while True:
        page = rt.search.search(query)
        for hit in page.hits:
            view = hit_view(hit)
            yield _csv_line([view[c] for c in CSV_COLUMNS])
            rows += 1
        if page.next_cursor is None or rows >= EXPORT_MAX_ROWS:
            break
        query = Query(query.root, query.sort, query.limit, page.next_cursor, False, query.visible_restricted)
    with rt.transaction() as session:
        append(session, rt.clock, actor, "search.exported", None, {"query": q, "rows": rows})


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(values: Any) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(v) for v in values])
    return out.getvalue()


def save_search(rt: Runtime, actor: Actor, name: str, q: str) -> dict[str, Any]:
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters", code="invalid_parameter", field="name")
    parse(q)  # refuse what would not run
    with rt.transaction() as session:
        if session.scalar(select(SavedSearch).where(SavedSearch.owner == actor.name, SavedSearch.name == name)):
            raise Conflict(f"a saved search named {name!r} exists already", code="saved_search_exists")
        saved = SavedSearch(owner=actor.name, name=name, query=q, created_at=rt.clock())
        session.add(saved)
        session.flush()
        append(session, rt.clock, actor, "search.saved", f"saved_search:{saved.id}", {"name": name, "query": q})
        return saved_view(saved)


def list_saved(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    with rt.reading() as session:
        return [saved_view(s) for s in session.scalars(select(SavedSearch).where(SavedSearch.owner == actor.name)
                                                      .order_by(SavedSearch.name))]


def delete_saved(rt: Runtime, actor: Actor, saved_id: str) -> None:
    with rt.transaction() as session:
        saved = session.get(SavedSearch, saved_id)
        if saved is None or saved.owner != actor.name:
            raise NotFound(f"no saved search {saved_id}", code="saved_search_not_found")
        session.delete(saved)
        append(session, rt.clock, actor, "search.deleted", f"saved_search:{saved_id}", {"name": saved.name})


def saved_view(saved: SavedSearch) -> dict[str, Any]:
    return {"id": saved.id, "name": saved.name, "query": saved.query, "created_at": isoformat(saved.created_at)}
