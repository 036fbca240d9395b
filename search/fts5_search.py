"""Running one search on the FTS5 backend: total, facets, one page of hits (by rank windows or rowid order), hits.

See search/fts5.py for the strategy; search/fts5_plan.py for the SQL it runs on.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from search.fts5_plan import MAX_ROWID, Plan, fts_string, plan
from search.fts5_text import RESTRICTED_TOKEN, decode_cursor, encode_cursor, snippet
from search.index import FACETS, Hit, Page, Query

WINDOW = 2000          # matches ranked together by BM25, newest first; see the module docstring of search/fts5.py
FACET_SIZE = 25        # values per facet, the most frequent first
BM25 = "bm25(fts, 5.0, 3.0, 1.0, 3.0, 0.0)"   # title, refs, body, ids, meta
HIT_COLUMNS = ("d.n, d.id, d.doc_type, d.customer_number, d.order_number, d.title, d.document_date, d.filed_at, "
               "d.amount_text, d.currency, d.status, b.text")


class Source:
    """The matching set as SQL: FTS5-driven when there is a MATCH expression, else a scan of docs by rowid."""

    def __init__(self, p: Plan, visible_restricted: bool) -> None:
        self.lo, self.hi, self.fts = p.lo, p.hi, p.match is not None
        self.where, self.params = list(p.where), list(p.params)
        if self.fts:
            hidden = "" if visible_restricted else f" NOT {{meta}} : {fts_string(RESTRICTED_TOKEN)}"
            self.where.insert(0, "fts MATCH ?")
            self.params.insert(0, f"({p.match}){hidden}" if hidden else p.match)
            self.rowid = "fts.rowid"
        else:
            self.rowid = "d.n"
            if not visible_restricted:
                self.where.append("d.restricted = 0")

    def sql(self, columns: str, lo: int, hi: int, docs: bool = False, order: str = "DESC",
            limit: int | None = None, offset: int = 0) -> tuple[str, list[Any]]:
        lo, hi = max(lo, self.lo), min(hi, self.hi)
        where, params = list(self.where), list(self.params)
        if lo > 0 or hi < MAX_ROWID:
            where.append(f"{self.rowid} BETWEEN ? AND ?")
            params += [lo, hi]
        joined = self.fts and (docs or any("d." in w for w in self.where))
        source = "fts JOIN docs d ON d.n = fts.rowid" if joined else ("fts" if self.fts else "docs d")
        text = f"SELECT {columns} FROM {source} WHERE {' AND '.join(f'({w})' for w in where)}"
        if order:
            text += f" ORDER BY {self.rowid} {order}"
        if limit is not None:
            text += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return text, params


def search(conn: sqlite3.Connection, query: Query) -> Page:
    p = plan(query.root)
    if p is None:
        return Page(0, True, [], {f: {} for f in FACETS} if query.facets else {})
    source = Source(p, query.visible_restricted)
    digest = hashlib.sha256(repr((query.root, query.sort, query.visible_restricted)).encode()).hexdigest()[:16]
    total, exact, facets = _count(conn, source, query)
    if query.sort == "relevance" and p.scored and source.fts:
        rows, position = _ranked(conn, source, query, digest)
    else:
        rows, position = _ordered(conn, source, query, digest)
    cursor = encode_cursor(digest, position) if position else None
    return Page(total, exact, _hits(conn, rows, p), facets, cursor)


def _count(conn: sqlite3.Connection, source: Source, query: Query) -> tuple[int, bool, dict[str, dict[str, int]]]:
    """Exact up to the bound; facets over the same newest `bound` matches (all of them when the total is exact)."""
    bound = max(0, query.exact_total_up_to)
    if not query.facets:
        sql, params = source.sql("1", 0, MAX_ROWID, order="", limit=bound + 1)
        total = conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
        return min(total, bound), total <= bound, {}
    sql, params = source.sql("d.doc_type, d.customer_number, d.year, d.status", 0, MAX_ROWID, docs=True,
                             limit=bound + 1)
    rows = conn.execute(sql, params).fetchall()
    columns = list(zip(*rows[:bound])) or [(), (), (), ()]
    counts = [Counter(columns[0]), Counter(columns[1]), Counter(str(y) for y in columns[2] if y is not None),
              Counter(columns[3])]
    facets = {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE])
              for name, c in zip(FACETS, counts)}
    return min(len(rows), bound), len(rows) <= bound, facets


def _ordered(conn: sqlite3.Connection, source: Source, query: Query, digest: str) -> tuple[list, dict | None]:
    """date_desc, date_asc (and relevance without words, all scores 0): rowid order is document_date order."""
    lo, hi = 0, MAX_ROWID
    if query.cursor:
        after = decode_cursor(query.cursor, digest, {"n": int})["n"]
        lo, hi = (after + 1, MAX_ROWID) if query.sort == "date_asc" else (0, after - 1)
    sql, params = source.sql(source.rowid, lo, hi, order="ASC" if query.sort == "date_asc" else "DESC",
                             limit=query.limit + 1)
    rows = [(n, 0.0) for (n,) in conn.execute(sql, params)]
    position = {"n": rows[query.limit - 1][0]} if len(rows) > query.limit else None
    return rows[:query.limit], position


def _ranked(conn: sqlite3.Connection, source: Source, query: Query, digest: str) -> tuple[list, dict | None]:
    """BM25 within windows of WINDOW matches, newest window first; keyset (score, rowid) inside a window."""
    if query.cursor:
        at = decode_cursor(query.cursor, digest, {"hi": int, "lo": int, "s": (int, float), "n": int})
        hi, lo, after = at["hi"], at["lo"], (float(at["s"]), at["n"])
    else:
        hi, after = source.hi, None
        lo = _window_start(conn, source, hi)
    rows: list[tuple[int, float, int, int]] = []
    while True:
        rows += [(n, s, hi, lo) for n, s in _window(conn, source, lo, hi, after, query.limit + 1 - len(rows))]
        if len(rows) > query.limit or lo <= source.lo:
            break
        hi, after = lo - 1, None
        lo = _window_start(conn, source, hi)
    position = None
    if len(rows) > query.limit:
        n, s, hi, lo = rows[query.limit - 1]
        position = {"hi": hi, "lo": lo, "s": s, "n": n}
    return [(n, -s) for n, s, _, _ in rows[:query.limit]], position


def _window_start(conn: sqlite3.Connection, source: Source, hi: int) -> int:
    sql, params = source.sql(source.rowid, 0, hi, limit=1, offset=WINDOW - 1)
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else source.lo


def _window(conn: sqlite3.Connection, source: Source, lo: int, hi: int, after: tuple[float, int] | None,
            k: int) -> list[tuple[int, float]]:
    inner, params = source.sql(f"fts.rowid AS n, {BM25} AS s", lo, hi, order="")
    keyset = ""
    if after is not None:
        keyset = "WHERE s > ? OR (s = ? AND n < ?)"
        params += [after[0], after[0], after[1]]
    sql = f"WITH w AS MATERIALIZED ({inner}) SELECT n, s FROM w {keyset} ORDER BY s, n DESC LIMIT {int(k)}"
    return conn.execute(sql, params).fetchall()


def _hits(conn: sqlite3.Connection, rows: list[tuple[int, float]], p: Plan) -> list[Hit]:
    if not rows:
        return []
    marks = (frozenset(p.words), tuple(sorted(p.prefixes)))
    found = {r[0]: r for r in conn.execute(
        f"SELECT {HIT_COLUMNS} FROM docs d JOIN bodies b ON b.n = d.n WHERE d.n IN ({','.join('?' * len(rows))})",
        [n for n, _ in rows])}
    hits = []
    for n, score in rows:
        r = found.get(n)
        if r is not None:
            hits.append(Hit(id=r[1], score=score, snippet=snippet(r[11], *marks), doc_type=r[2],
                            customer_number=r[3], order_number=r[4], title=r[5],
                            document_date=date.fromisoformat(r[6]) if r[6] else None,
                            filed_at=datetime.fromisoformat(r[7]), amount=Decimal(r[8]) if r[8] else None,
                            currency=r[9], status=r[10]))
    return hits
