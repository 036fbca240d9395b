"""The search seam: one protocol, our own Query and Page types; each backend translates them (fts5.py, elastic.py).

Services speak these types only; no engine syntax leaks past a backend.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, Iterator, Protocol

from search.query import Node

MAX_PAGE = 100
EXACT_TOTAL_UP_TO = 10_000
FACETS = ("type", "customer", "year", "status")
SORTS = ("relevance", "date_desc", "date_asc")


@dataclass(frozen=True)
class IndexRecord:
    """What is indexed for one document: derived data, rebuilt from the database at any time."""

    id: str
    doc_type: str
    customer_number: str
    customer_name: str | None
    order_number: str | None
    title: str | None
    filename: str | None
    text: str
    references: tuple[str, ...]
    document_date: date | None
    filed_at: datetime
    amount: Decimal | None
    currency: str | None
    mime_type: str
    status: str
    restricted: bool = False
    stamp: str = ""  # changes whenever the record would change: drift detection compares stamps


@dataclass(frozen=True)
class Query:
    """A parsed query plus who asks: `visible_restricted` says whether restricted documents may be returned."""

    root: Node | None
    sort: str = "relevance"
    limit: int = 20
    cursor: str | None = None
    facets: bool = True
    visible_restricted: bool = False
    exact_total_up_to: int = EXACT_TOTAL_UP_TO


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    snippet: str
    doc_type: str
    customer_number: str
    order_number: str | None
    title: str | None
    document_date: date | None
    filed_at: datetime
    amount: Decimal | None
    currency: str | None
    status: str


@dataclass(frozen=True)
class Page:
    total: int
    total_is_exact: bool
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    next_cursor: str | None = None


class SearchIndex(Protocol):
    def upsert(self, records: list[IndexRecord]) -> None: ...

    def delete(self, ids: list[str]) -> None: ...

    def search(self, query: Query) -> Page: ...

    def stamps(self) -> Iterator[tuple[str, str]]:
        """(id, stamp) for every indexed document, in id order: for drift checks against the database."""

    def clear(self) -> None: ...

    def optimize(self) -> None:
        """After a rebuild: merge the index into as few parts as it can, for the fastest searches."""

    def bulk(self, committed: Callable[[str], None] | None = None) -> AbstractContextManager[SearchIndex]:
        """For a rebuild, by one thread: upserts may be buffered and written in large batches, and are all written
        and searchable when the block ends (searches inside it may not see them yet). After each write that made
        upserts durable, `committed` is called with the id of the last record it covered (in upsert order), so
        that a rebuild in id order can resume after it."""

    def close(self) -> None: ...
