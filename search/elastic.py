"""Elasticsearch backend of the search seam (official client, pinned to the server's major.minor).

Mappings rely only on what every distribution has, the integ-test zip included (no analysis-common): text is
folded in Python (search.normalize.fold) before it is sent, so case and accents need no token filters, and the
`standard` analyzer does the rest. A production cluster can switch a language analyzer on for the text fields
through ARCHIVE_SEARCH_ANALYZER (see docs/elasticsearch.md). Snippets come from search.snippets.
"""
from __future__ import annotations

import base64
import binascii
import json
import threading
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Callable, Iterator

from elasticsearch import Elasticsearch, NotFoundError, helpers

from archive.errors import InvalidInput
from search.elastic_query import SORTS, translate
from search.index import FACETS, Hit, IndexRecord, Page, Query
from search.normalize import fold, identifier_keys, words
from search.snippets import Marker, query_terms, snippet

TEXT_FIELDS = ("title", "references", "text", "filename", "customer_name")


def mappings(analyzer: str) -> dict[str, Any]:
    text = {"type": "text", "analyzer": analyzer}
    keyword = {"type": "keyword"}
    return {"dynamic": "strict", "properties": {
        **{name: text for name in TEXT_FIELDS},
        "id": keyword, "doc_type": keyword, "customer_number": keyword, "customer_key": keyword,
        "order_number": keyword, "order_key": keyword, "ident_keys": keyword, "year": keyword,
        "document_date": {"type": "date", "format": "yyyy-MM-dd"}, "filed_at": {"type": "date"},
        "amount": {"type": "double"}, "amount_text": {"type": "keyword", "index": False},
        "currency": keyword, "mime_type": keyword, "status": keyword, "restricted": {"type": "boolean"},
        "stamp": keyword, "title_raw": {"type": "keyword", "index": False},
        "text_raw": {"type": "text", "index": False}, "filed_at_text": {"type": "keyword", "index": False},
    }}


class ElasticIndex:
    def __init__(self, url: str, index_name: str = "archive-documents", refresh: str | bool = False,
                 analyzer: str = "standard") -> None:
        self.client = Elasticsearch(url, request_timeout=30)
        self.name, self.refresh, self.analyzer = index_name, refresh, analyzer
        self._local = threading.local()
        self._ensure_index()

    def _ensure_index(self) -> None:
        if not self.client.indices.exists(index=self.name):
            self.client.indices.create(index=self.name, mappings=mappings(self.analyzer),
                                       settings={"number_of_shards": 1, "number_of_replicas": 0})

    def upsert(self, records: list[IndexRecord]) -> None:
        actions = ({"_index": self.name, "_id": r.id, "_source": _source(r)} for r in records)
        committed = getattr(self._local, "committed", None)
        helpers.bulk(self.client, actions, refresh=self.refresh if committed is None else False)
        if committed is not None and records:
            committed(records[-1].id)  # acknowledged writes are in the translog, which is synced per request

    @contextmanager
    def bulk(self, committed: Callable[[str], None] | None = None) -> Iterator[ElasticIndex]:
        """For a rebuild: no refresh until the block ends, as Elasticsearch advises for bulk loads. Searches of
        this index see no new writes meanwhile, from any client."""
        self.client.indices.put_settings(index=self.name, settings={"index": {"refresh_interval": "-1"}})
        self._local.committed = committed or (lambda last_id: None)
        try:
            yield self
        finally:
            self._local.committed = None
            self.client.indices.put_settings(index=self.name, settings={"index": {"refresh_interval": None}})
            self.client.indices.refresh(index=self.name)

    def delete(self, ids: list[str]) -> None:
        actions = ({"_op_type": "delete", "_index": self.name, "_id": i} for i in ids)
        helpers.bulk(self.client, actions, refresh=self.refresh, raise_on_error=False)

    def search(self, query: Query) -> Page:
        sort = SORTS[query.sort]
        body: dict[str, Any] = {"query": translate(query), "sort": sort, "size": query.limit,
                                "track_total_hits": query.exact_total_up_to,
                                "_source": {"excludes": ["text", "references"]}}
        if query.cursor:
            body["search_after"] = _decode_cursor(query.cursor, query.sort)
        if query.facets:
            body["aggs"] = {name: {"terms": {"field": field, "size": 50}} for name, field in
                            (("type", "doc_type"), ("customer", "customer_number"), ("year", "year"),
                             ("status", "status"))}
        response = self.client.search(index=self.name, **body)
        return self._page(query, response)

    def _page(self, query: Query, response: Any) -> Page:
        total = response["hits"]["total"]
        raw_hits = response["hits"]["hits"]
        marker = Marker(*query_terms(query.root))
        hits = [_hit(h, marker) for h in raw_hits]
        facets = {name: {b["key"]: b["doc_count"] for b in response["aggregations"][name]["buckets"]}
                  for name in FACETS} if query.facets else {}
        exact = total["relation"] == "eq" and total["value"] <= query.exact_total_up_to
        more = len(raw_hits) == query.limit
        cursor = _encode_cursor(raw_hits[-1]["sort"], query.sort) if more and raw_hits else None
        return Page(total=min(total["value"], query.exact_total_up_to) if not exact else total["value"],
                    total_is_exact=exact, hits=hits, facets=facets, next_cursor=cursor)

    def stamps(self) -> Iterator[tuple[str, str]]:
        after = None
        while True:
            body: dict[str, Any] = {"query": {"match_all": {}}, "sort": [{"id": "asc"}], "size": 1000,
                                    "_source": ["stamp"], "track_total_hits": False}
            if after:
                body["search_after"] = after
            hits = self.client.search(index=self.name, **body)["hits"]["hits"]
            yield from ((h["_id"], h["_source"]["stamp"]) for h in hits)
            if len(hits) < 1000:
                return
            after = hits[-1]["sort"]

    def clear(self) -> None:
        try:
            self.client.indices.delete(index=self.name)
        except NotFoundError:
            pass
        self._ensure_index()

    def optimize(self) -> None:
        """One segment: right after a rebuild only, since a merged segment this large is rarely merged again."""
        self.client.indices.refresh(index=self.name)
        self.client.options(request_timeout=3600).indices.forcemerge(index=self.name, max_num_segments=1)

    def drop(self) -> None:
        self.client.indices.delete(index=self.name, ignore_unavailable=True)

    def close(self) -> None:
        self.client.close()


def _source(record: IndexRecord) -> dict[str, Any]:
    keys = {key for value in (*record.references, record.order_number, record.customer_number) if value
            for key in identifier_keys(value)}
    return {
        "id": record.id, "doc_type": record.doc_type, "customer_number": record.customer_number,
        "customer_key": identifier_keys(record.customer_number)[0] if record.customer_number else None,
        "customer_name": fold(record.customer_name or ""), "order_number": record.order_number,
        "order_key": identifier_keys(record.order_number)[0] if record.order_number else None,
        "ident_keys": sorted(keys), "title": fold(record.title or ""), "title_raw": record.title,
        "filename": " ".join(words(record.filename or "")), "text": fold(record.text),
        "text_raw": record.text[:20000], "references": " ".join(w for r in record.references for w in words(r)),
        "document_date": record.document_date.isoformat() if record.document_date else None,
        "year": str(record.document_date.year) if record.document_date else None,
        "filed_at": record.filed_at.isoformat(), "filed_at_text": record.filed_at.isoformat(),
        "amount": float(record.amount) if record.amount is not None else None,
        "amount_text": str(record.amount) if record.amount is not None else None, "currency": record.currency,
        "mime_type": record.mime_type, "status": record.status, "restricted": record.restricted,
        "stamp": record.stamp,
    }


def _hit(raw: dict[str, Any], marker: Marker) -> Hit:
    from datetime import date, datetime
    source = raw["_source"]
    text = source.get("text_raw") or source.get("title_raw") or ""
    return Hit(id=raw["_id"], score=float(raw.get("_score") or 0.0), snippet=snippet(text, marker),
               doc_type=source["doc_type"], customer_number=source["customer_number"],
               order_number=source.get("order_number"), title=source.get("title_raw"),
               document_date=date.fromisoformat(source["document_date"]) if source.get("document_date") else None,
               filed_at=datetime.fromisoformat(source["filed_at_text"]),
               amount=Decimal(source["amount_text"]) if source.get("amount_text") else None,
               currency=source.get("currency"), status=source["status"])


def _encode_cursor(values: list[Any], sort: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": sort, "v": values}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort or not isinstance(data["v"], list) or len(data["v"]) != len(SORTS[sort]):
            raise ValueError("cursor from another sort")
        if not all(isinstance(v, (str, int, float)) or v is None for v in data["v"]):
            raise ValueError("cursor values")
        return data["v"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this search issued", code="invalid_cursor",
                           field="cursor") from None
