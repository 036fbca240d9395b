"""The embedded search index: SQLite FTS5 in a file of its own (WAL), the default SearchIndex.

Layout. `fts` is a contentless FTS5 table (title, refs, body, ids, meta) of folded text (search.normalize.fold, so
search ignores case and accents and `strasse` finds `Straße`): refs holds the references, order and customer numbers,
body the text, filename and customer name, ids every identifier_keys() of those numbers, meta one token per filter
value (search/fts5_text.py). `docs` holds the filterable and displayed fields, `bodies` the original text for
snippets and for the 'delete' that a contentless table needs (the folded values are recomputed from it; the
`format` setting records how text was folded, and an index folded differently is emptied for a rebuild).

Rowids are `ordinal(document_date) << 32 | seq`, so rowid order is date order (ties by indexing sequence, which
follows id order when a reindex runs in id order; documents without a date sort as the oldest). Hence:

* date sorts walk FTS5's doclists in rowid order and stop after `limit + 1` rows: no sort, any match-set size;
  the cursor is the last rowid (keyset), a date filter is a rowid range that FTS5 seeks to.
* relevance is BM25 (title 5, refs 3, body 1, ids 3) computed over a window of the newest WINDOW (2,000) matches;
  when those run out the next page continues with the next older window, ranked the same way. When a query has at
  most WINDOW matches (rare and mid terms, most filtered queries) this is exactly a BM25 ranking; for very common
  terms it ranks the most recent matches, which is what an archive user looking for an order usually wants, and it
  bounds the cost: a plain ORDER BY bm25 over 300k matches would take ~250 ms at 1M documents. The cursor is
  (window, last score, last rowid), so deep pagination visits every hit once, without OFFSET.
* totals count matches up to `exact_total_up_to` (LIMIT bound + 1) and then report the bound as not exact.
* facets (type, customer, year, status; the FACET_SIZE most frequent values) are counted over the same LIMITed
  scan, newest first: exact whenever the total is exact; when the total is not exact they describe the newest
  `exact_total_up_to` matches, which a caller can tell from `total_is_exact=False`. Exact facets over a 300k match
  set cost a row lookup per match (~150 ms at 1M documents), beyond the latency budget.

Writes: every upsert/delete is one transaction (WAL, synchronous=NORMAL: durable on commit); `bulk()` is for
rebuilds only: synchronous=OFF, one open transaction committed every BULK_COMMIT documents, segments merged at the
end. Connections are per thread; a search reads one snapshot.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path
from typing import Iterator

from search import fts5_search
from search.fts5_plan import DAY_SHIFT, amount_value, day_rowid
from search.fts5_text import fts_values
from search.index import IndexRecord, Page, Query
from search.normalize import fold

FORMAT = "1:" + fold("Straße ÉŒ ﬁ İ")
BULK_COMMIT = 50_000
CHUNK = 500
DAY_MASK = (1 << DAY_SHIFT) - 1
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS docs (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_type TEXT NOT NULL,
        customer_number TEXT NOT NULL, order_number TEXT, title TEXT, document_date TEXT, year INTEGER,
        filed_at TEXT NOT NULL, filed_day INTEGER NOT NULL, amount REAL, amount_text TEXT, currency TEXT,
        status TEXT NOT NULL, restricted INTEGER NOT NULL, stamp TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS bodies (n INTEGER PRIMARY KEY, refs TEXT NOT NULL, customer_name TEXT,
        filename TEXT, text TEXT NOT NULL)""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, refs, body, ids, meta, content='',
        tokenize='unicode61 remove_diacritics 2')""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
FTS_INSERT = "INSERT INTO fts(rowid, title, refs, body, ids, meta) VALUES (?, ?, ?, ?, ?, ?)"
FTS_DELETE = "INSERT INTO fts(fts, rowid, title, refs, body, ids, meta) VALUES ('delete', ?, ?, ?, ?, ?, ?)"
OLD_COLUMNS = ("d.n, d.id, d.title, b.refs, d.order_number, d.customer_number, b.customer_name, b.filename, b.text, "
               "d.doc_type, d.status, d.restricted")


class Fts5Index:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        with self._writing() as conn:
            self._migrate(conn)

    # -- connections and transactions --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            for pragma in ("synchronous=NORMAL", "cache_size=-65536", "mmap_size=1073741824", "temp_store=MEMORY"):
                conn.execute(f"PRAGMA {pragma}")
            self._local.conn, self._local.bulk = conn, None
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        if self._local.bulk is not None:  # inside bulk(): its transaction is open already
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for statement in SCHEMA:
            conn.execute(statement)
        row = conn.execute("SELECT value FROM settings WHERE key = 'format'").fetchone()
        if row is not None and row[0] != FORMAT:
            self._recreate(conn)  # folded differently: the index is derived data, a reindex refills it
        conn.execute("INSERT OR REPLACE INTO settings VALUES ('format', ?)", (FORMAT,))

    def _recreate(self, conn: sqlite3.Connection) -> None:
        for table in ("fts", "docs", "bodies"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA:
            conn.execute(statement)

    @contextmanager
    def bulk(self) -> Iterator[Fts5Index]:
        """For a rebuild (reindex) only: not durable until the block ends; merges the index segments at the end."""
        conn = self._conn()
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN IMMEDIATE")
        self._local.bulk = 0
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            conn.execute("COMMIT")
        finally:
            self._local.bulk = None
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _bulk_progress(self, conn: sqlite3.Connection, count: int) -> None:
        if self._local.bulk is None:
            return
        self._local.bulk += count
        if self._local.bulk >= BULK_COMMIT:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            self._local.bulk = 0

    # -- writes -------------------------------------------------------------------------------------------------

    def upsert(self, records: list[IndexRecord]) -> None:
        latest = list({r.id: r for r in records}.values())
        if not latest:
            return
        with self._writing() as conn:
            old = self._unindex(conn, [r.id for r in latest], keep={r.id: day_rowid(r.document_date) for r in latest})
            next_seq: dict[int, int] = {}
            rows = [(old.get(r.id) or self._allocate(conn, day_rowid(r.document_date), next_seq), r) for r in latest]
            conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [_doc_row(n, r) for n, r in rows])
            conn.executemany("INSERT INTO bodies VALUES (?, ?, ?, ?, ?)",
                             [(n, json.dumps(r.references), r.customer_name, r.filename, r.text) for n, r in rows])
            conn.executemany(FTS_INSERT, [(n, *fts_values(
                r.title, r.references, r.order_number, r.customer_number, r.customer_name, r.filename, r.text,
                r.doc_type, r.status, r.restricted)) for n, r in rows])
            self._bulk_progress(conn, len(rows))

    def delete(self, ids: list[str]) -> None:
        if ids:
            with self._writing() as conn:
                self._unindex(conn, list(dict.fromkeys(ids)), keep={})

    def _unindex(self, conn: sqlite3.Connection, ids: list[str], keep: dict[str, int]) -> dict[str, int]:
        """Removes these documents from all tables; returns {id: rowid} of those whose rowid (day) stays."""
        kept = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            old = conn.execute(f"SELECT {OLD_COLUMNS} FROM docs d JOIN bodies b ON b.n = d.n "
                               f"WHERE d.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            if not old:
                continue
            conn.executemany(FTS_DELETE, [(o[0], *fts_values(o[2], json.loads(o[3]), *o[4:11], bool(o[11])))
                                          for o in old])
            conn.executemany("DELETE FROM docs WHERE n = ?", [(o[0],) for o in old])
            conn.executemany("DELETE FROM bodies WHERE n = ?", [(o[0],) for o in old])
            kept.update({o[1]: o[0] for o in old if o[1] in keep and o[0] & ~DAY_MASK == keep[o[1]]})
        return kept

    @staticmethod
    def _allocate(conn: sqlite3.Connection, base: int, next_seq: dict[int, int]) -> int:
        if base not in next_seq:
            top = conn.execute("SELECT max(n) FROM docs WHERE n BETWEEN ? AND ?", (base, base | DAY_MASK)).fetchone()[0]
            next_seq[base] = (top if top is not None else base) + 1
        n = next_seq[base]
        if n > base | DAY_MASK:
            raise OverflowError("more than 2**32 documents indexed for one document date")
        next_seq[base] = n + 1
        return n

    def clear(self) -> None:
        with self._writing() as conn:
            self._recreate(conn)

    # -- reads --------------------------------------------------------------------------------------------------

    def search(self, query: Query) -> Page:
        conn = self._conn()
        if self._local.bulk is not None:
            return fts5_search.search(conn, query)
        conn.execute("BEGIN")  # one snapshot for total, facets and hits
        try:
            return fts5_search.search(conn, query)
        finally:
            conn.execute("COMMIT")

    def stamps(self) -> Iterator[tuple[str, str]]:
        after = ""
        while True:
            rows = self._conn().execute("SELECT id, stamp FROM docs WHERE id > ? ORDER BY id LIMIT 1000",
                                        (after,)).fetchall()
            yield from rows
            if len(rows) < 1000:
                return
            after = rows[-1][0]

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()


def _doc_row(n: int, r: IndexRecord) -> tuple:
    filed_day = r.filed_at.astimezone(timezone.utc).date() if r.filed_at.tzinfo else r.filed_at.date()
    return (n, r.id, r.doc_type, r.customer_number, r.order_number, r.title,
            r.document_date.isoformat() if r.document_date else None,
            r.document_date.year if r.document_date else None, r.filed_at.isoformat(), filed_day.toordinal(),
            amount_value(r.amount), str(r.amount) if r.amount is not None else None, r.currency, r.status,
            int(r.restricted), r.stamp)
