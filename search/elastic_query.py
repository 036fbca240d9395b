"""Our query AST in Elasticsearch's query DSL. Only structured queries are built (term, match, range, bool):
user text never reaches a query parser, so engine syntax in a search box stays plain text."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from search.index import Query
from search.query import And, Filter, Identifier, Node, Not, Or, Phrase, Term

FIELDS = ["title^5", "references^3", "text", "filename", "customer_name"]
SORTS = {
    "relevance": [{"_score": "desc"}, {"id": "asc"}],
    "date_desc": [{"document_date": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
    "date_asc": [{"document_date": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
}
MATCH_NONE = {"match_none": {}}


def translate(query: Query) -> dict[str, Any]:
    visible = [] if query.visible_restricted else [{"term": {"restricted": False}}]
    root = MATCH_NONE if query.root is None else _node(query.root)
    return {"bool": {"must": [root], "filter": visible}}


def _node(node: Node) -> dict[str, Any]:
    if isinstance(node, Term):
        kind = "phrase_prefix" if node.prefix else "best_fields"
        return {"multi_match": {"query": node.word, "fields": FIELDS, "type": kind}}
    if isinstance(node, Phrase):
        return {"multi_match": {"query": " ".join(node.words), "fields": FIELDS, "type": "phrase"}}
    if isinstance(node, Identifier):
        return {"bool": {"should": [{"term": {"ident_keys": {"value": node.key, "boost": 3}}},
                                    {"multi_match": {"query": " ".join(node.words), "fields": FIELDS,
                                                     "type": "phrase"}}], "minimum_should_match": 1}}
    if isinstance(node, Filter):
        return {"constant_score": {"filter": _filter(node), "boost": 0}}
    if isinstance(node, And):
        return {"bool": {"must": [_node(i) for i in node.items if not isinstance(i, Not)],
                         "must_not": [_node(i.item) for i in node.items if isinstance(i, Not)]}}
    if isinstance(node, Or):
        return {"bool": {"should": [_node(i) for i in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must": [{"match_all": {}}], "must_not": [_node(node.item)]}}
    raise TypeError(f"unknown query node {node!r}")


def _filter(node: Filter) -> dict[str, Any]:
    field = {"type": "doc_type", "status": "status", "customer": "customer_key", "order": "order_key"}.get(node.field)
    if field is not None:
        return {"term": {field: node.value}}
    if node.field == "amount":
        return {"range": {"amount": _bounds(node, float)}}
    if node.field == "date":
        return {"range": {"document_date": _bounds(node, date.isoformat)}}
    return {"range": {"filed_at": _filed_bounds(node)}}


def _bounds(node: Filter, convert) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if node.lo is not None:
        bounds["gte" if node.lo_inclusive else "gt"] = convert(node.lo)
    if node.hi is not None:
        bounds["lte" if node.hi_inclusive else "lt"] = convert(node.hi)
    return bounds


def _filed_bounds(node: Filter) -> dict[str, Any]:
    """filed: compares days; filed_at is a time, so a day's bound covers the whole UTC day."""
    bounds: dict[str, Any] = {}
    if node.lo is not None:
        start = node.lo if node.lo_inclusive else node.lo + timedelta(days=1)
        bounds["gte"] = f"{start.isoformat()}T00:00:00Z"
    if node.hi is not None:
        end = node.hi + timedelta(days=1) if node.hi_inclusive else node.hi
        bounds["lt"] = f"{end.isoformat()}T00:00:00Z"
    return bounds
