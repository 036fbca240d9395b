"""Running one search on the FTS5 backend: total, facets, one page of hits (by rank windows or rowid order), hits.

See search/fts5.py for the strategy; search/fts5_plan.py for the SQL it runs on.
"""
from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from search.fts5_plan import Plan, plan
from search.fts5_rowid import (CUSTOMER_SHIFT, DAY_SHIFT, LENGTH_MASK, LENGTH_SHIFT, MAX_ROWID, STATUS_SHIFT,
                               TYPE_SHIFT, Codes, day_of)
from search.fts5_text import decode_cursor, decode_cursor_text, encode_cursor
from search.index import FACETS, Hit, Page, Query
from search.snippets import Marker, snippet

WINDOW = 1000          # matches ranked together by BM25, newest first; see the module docstring of search/fts5.py
FACET_SIZE = 25        # values per facet, the most frequent first
WEIGHTS = "5.0, 3.0, 1.0, 3.0, 0.0"   # title, refs, body, ids, meta
SCORES = {"rank_bm25": f"rank_bm25(fts, (fts.rowid >> {LENGTH_SHIFT}) & {LENGTH_MASK}, {WEIGHTS})",
          "bm25": f"bm25(fts, {WEIGHTS})"}
HIT_COLUMNS = ("d.n, d.id, d.doc_type, d.customer_number, d.order_number, d.title, d.document_date, d.filed_at, "
               "d.amount_text, d.currency, d.status, b.text")


class Source:
    """The matching set as SQL: FTS5-driven when there is a MATCH expression, else a scan of docs by rowid."""

    def __init__(self, p: Plan, visible_restricted: bool, ranking: str) -> None:
        self.lo, self.hi, self.fts = p.lo, p.hi, p.match is not None
        self.score = SCORES[ranking]
        self.rowid = "fts.rowid" if self.fts else "d.n"
        self.where, self.params = list(p.where), list(p.params)
        if self.fts:
            self.where.insert(0, "fts MATCH ?")
            self.params.insert(0, p.match)
        if not visible_restricted:
            self.where.append(f"({self.rowid} & 1) = 0")  # bit 0: restricted (search/fts5_rowid.py)

    def sql(self, columns: str, lo: int = 0, hi: int = MAX_ROWID, order: str = "ASC", limit: int | None = None,
            offset: int = 0) -> tuple[str, list[Any]]:
        lo, hi = max(lo, self.lo), min(hi, self.hi)
        where, params = list(self.where), list(self.params)
        if lo > 0 or hi < MAX_ROWID:
            where.append(f"{self.rowid} BETWEEN ? AND ?")
            params += [lo, hi]
        joined = self.fts and any("d." in w for w in self.where)
        source = "fts JOIN docs d ON d.n = fts.rowid" if joined else ("fts" if self.fts else "docs d")
        text = f"SELECT {columns} FROM {source} WHERE {' AND '.join(f'({w})' for w in where)}"
        if order:
            text += f" ORDER BY {self.rowid} {order}"
        if limit is not None:
            text += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return text, params


def search(conn: sqlite3.Connection, codes: Codes, query: Query, ranking: str) -> Page:
    p = plan(query.root)
    if p is None:
        return Page(0, True, [], {f: {} for f in FACETS} if query.facets else {})
    source = Source(p, query.visible_restricted, ranking)
    digest = hashlib.sha256(repr((query.root, query.sort, query.visible_restricted)).encode()).hexdigest()[:16]
    bound = max(0, query.exact_total_up_to)
    if query.facets:
        newest = _rowids(conn, source, bound + 1)
        total, facets = len(newest), _facets(conn, codes, newest[:bound])
    else:
        sql, params = source.sql("1", order="", limit=bound + 1)
        total, facets = conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0], {}
    if query.sort == "relevance" and p.scored and source.fts and _bm25_affordable(query, total, bound):
        rows, position = _ranked(conn, source, query, digest)
    else:
        rows, position = _ordered(conn, source, query, digest)
    cursor = encode_cursor(digest, position) if position else None
    return Page(min(total, bound), total <= bound, _hits(conn, rows, p), facets, cursor)


def _bm25_affordable(query: Query, total: int, bound: int) -> bool:
    """BM25 first counts every match of each scored phrase (its IDF), once per statement: affordable up to the bound,
    where counting the total costs as much. Beyond, relevance is recency (score 0). A cursor keeps its mode."""
    if query.cursor:
        return '"lo":' in decode_cursor_text(query.cursor)
    return total <= bound


def _rowids(conn: sqlite3.Connection, source: Source, limit: int) -> list[int]:
    """The newest `limit` matching rowids, in one string: a row per match through Python costs ~1 µs more."""
    sql, params = source.sql(f"{source.rowid} AS n", limit=limit)
    joined = conn.execute(f"SELECT group_concat(n) FROM ({sql})", params).fetchone()[0]
    return sorted(map(int, joined.split(","))) if joined else []


def _facets(conn: sqlite3.Connection, codes: Codes, rowids: list[int]) -> dict[str, dict[str, int]]:
    """Decoded from the rowids (search/fts5_rowid.py); values without a code (0) are looked up."""
    counts: dict[str, Counter] = {name: Counter() for name in FACETS}
    for day, k in Counter([n >> DAY_SHIFT for n in rowids]).items():
        year = _year(day)
        if year is not None:
            counts["year"][year] += k
    unknown = set()
    for name, (kind, shift, mask) in _FIELDS.items():
        for code, k in Counter([n >> shift & mask for n in rowids]).items():
            value = codes.value(conn, kind, code) if code else None
            if value is None:
                unknown.add(name)
            else:
                counts[name][value] += k
    if unknown:
        _lookup_facets(conn, rowids, unknown, counts)
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]) for name, c in counts.items()}


_FIELDS = {"customer": ("c", CUSTOMER_SHIFT, 0x3FFF), "type": ("t", TYPE_SHIFT, 0xF),
           "status": ("s", STATUS_SHIFT, 0x7)}


@functools.lru_cache(maxsize=65536)
def _year(day: int) -> str | None:
    found = day_of(day << DAY_SHIFT)
    return str(found.year) if found is not None else None


def _lookup_facets(conn: sqlite3.Connection, rowids: list[int], unknown: set[str],
                   counts: dict[str, Counter]) -> None:
    """Rare: values beyond a field's codes (code 0), or codes unknown here, are read from docs."""
    for start in range(0, len(rowids), 500):
        chunk = rowids[start:start + 500]
        for n, customer, doc_type, status in conn.execute(
                f"SELECT n, customer_number, doc_type, status FROM docs WHERE n IN ({','.join('?' * len(chunk))})",
                chunk):
            for name, value in (("customer", customer), ("type", doc_type), ("status", status)):
                _, shift, mask = _FIELDS[name]
                if name in unknown and not n >> shift & mask:
                    counts[name][value] += 1


def _ordered(conn: sqlite3.Connection, source: Source, query: Query, digest: str) -> tuple[list, dict | None]:
    """date_desc, date_asc (and relevance without words, all scores 0): rowid order is date order, newest first."""
    lo, hi = 0, MAX_ROWID
    if query.cursor:
        after = decode_cursor(query.cursor, digest, {"n": int})["n"]
        lo, hi = (0, after - 1) if query.sort == "date_asc" else (after + 1, MAX_ROWID)
    sql, params = source.sql(source.rowid, lo, hi, order="DESC" if query.sort == "date_asc" else "ASC",
                             limit=query.limit + 1)
    rows = [(n, 0.0) for (n,) in conn.execute(sql, params)]
    position = {"n": rows[query.limit - 1][0]} if len(rows) > query.limit else None
    return rows[:query.limit], position


def _ranked(conn: sqlite3.Connection, source: Source, query: Query, digest: str) -> tuple[list, dict | None]:
    """BM25 within windows of WINDOW matches, newest window first; keyset (score, rowid) inside a window."""
    if query.cursor:
        at = decode_cursor(query.cursor, digest, {"lo": int, "hi": int, "s": (int, float), "n": int})
        lo, hi, after = at["lo"], at["hi"], (float(at["s"]), at["n"])
    else:
        lo, hi, after = source.lo, None, None
    rows: list[tuple[int, float, int, int]] = []
    while True:
        found, hi, size = _window(conn, source, lo, hi, after, query.limit + 1 - len(rows))
        rows += [(n, s, lo, hi) for n, s in found]
        if len(rows) > query.limit or size < WINDOW or hi >= source.hi:
            break
        lo, hi, after = hi + 1, None, None
    position = None
    if len(rows) > query.limit:
        n, s, lo, hi = rows[query.limit - 1]
        position = {"lo": lo, "hi": hi, "s": s, "n": n}
    return [(n, -s) for n, s, _, _ in rows[:query.limit]], position


def _window(conn: sqlite3.Connection, source: Source, lo: int, hi: int | None, after: tuple[float, int] | None,
            k: int) -> tuple[list[tuple[int, float]], int, int]:
    """The best k of the window lo..hi, or of the WINDOW matches from lo when hi is None; with the window's last
    rowid and size. One statement: every statement evaluates the MATCH again."""
    if hi is None:
        inner, params = source.sql(f"fts.rowid AS n, {source.score} AS s", lo, limit=WINDOW)
    else:
        inner, params = source.sql(f"fts.rowid AS n, {source.score} AS s", lo, hi, order="")
    keyset = ""
    if after is not None:
        keyset = "WHERE s > ? OR (s = ? AND n > ?)"
        params += [after[0], after[0], after[1]]
    rows = conn.execute(f"WITH w AS MATERIALIZED ({inner}) SELECT (SELECT max(n) FROM w), (SELECT count(*) FROM w), "
                        f"n, s FROM (SELECT n, s FROM w {keyset} ORDER BY s, n LIMIT {int(k)}) "
                        f"UNION ALL SELECT (SELECT max(n) FROM w), (SELECT count(*) FROM w), NULL, NULL "
                        f"ORDER BY 3 NULLS LAST", params).fetchall()
    found = [(n, s) for _, _, n, s in rows if n is not None]
    found.sort(key=lambda row: (row[1], row[0]))
    top, size = rows[-1][0], rows[-1][1]
    return found, (top if hi is None and top is not None else hi if hi is not None else source.hi), size


def _hits(conn: sqlite3.Connection, rows: list[tuple[int, float]], p: Plan) -> list[Hit]:
    if not rows:
        return []
    marker = Marker(p.words, p.prefixes)
    found = {r[0]: r for r in conn.execute(
        f"SELECT {HIT_COLUMNS} FROM docs d JOIN bodies b ON b.b = d.body WHERE d.n IN ({','.join('?' * len(rows))})",
        [n for n, _ in rows])}
    hits = []
    for n, score in rows:
        r = found.get(n)
        if r is not None:
            hits.append(Hit(id=r[1], score=score, snippet=snippet(r[11], marker), doc_type=r[2],
                            customer_number=r[3], order_number=r[4], title=r[5],
                            document_date=date.fromisoformat(r[6]) if r[6] else None,
                            filed_at=datetime.fromisoformat(r[7]), amount=Decimal(r[8]) if r[8] else None,
                            currency=r[9], status=r[10]))
    return hits
