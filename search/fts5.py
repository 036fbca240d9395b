"""The embedded search index: SQLite FTS5 in a file of its own (WAL), the default SearchIndex.

Layout. `fts` is a contentless FTS5 table (title, refs, body, ids, meta) of folded text (search.normalize.fold, so
search ignores case and accents and `strasse` finds `Straße`): refs holds the references, order and customer numbers,
body the text, filename and customer name, ids every identifier_keys() of those numbers, meta one token per filter
value; ids and meta tokens are marked so that no typed word reaches them (search/fts5_text.py). `docs` holds the
displayed and range-filtered fields, `bodies` (appended, so bulk loads stay sequential) the original text for
snippets and for the 'delete' that a contentless table needs: the folded values are recomputed from it, and the
`format` setting records how text was folded; an index folded differently is emptied, for a reindex to refill.

Top-k strategy. The rowid of a document encodes its date (newest first), customer, type, status and restricted flag
(search/fts5_rowid.py). FTS5 walks doclists in ascending rowid order cheaply and seeks to rowid ranges, so:

* date sorts read `limit + 1` rows in rowid order: no sort and no row lookups, whatever the match count; ties in a
  day are broken by (customer, type, status, indexing sequence), deterministically; the cursor is the last rowid.
* a date filter is a rowid range; visibility is `rowid & 1 = 0`, not an FTS5 NOT (which doubles the cost of BM25).
* the total counts matches up to `exact_total_up_to` + 1 (LIMIT; ~1 ms per 10,000): exact up to the bound, else
  the bound with total_is_exact=False. With facets, the same scan returns the rowids instead (group_concat: one
  string, since a row per match through Python costs more than the scan), and type, customer, year and status are
  decoded from them with no row lookups (the FACET_SIZE most frequent values each). Facets are therefore exact
  whenever the total is; above the bound they describe the newest `exact_total_up_to` matches (the caller sees
  total_is_exact=False): exact facets over 800k matches would cost 800k rowids (~0.1 s).
* relevance is BM25 (title 5, refs 3, body 1, ids 3) over a window of the WINDOW newest matches, ranked by FTS5 in
  one statement; when a page exhausts the window, the next older window follows, ranked the same way. A query with
  at most WINDOW matches gets all of them ranked. The cursor is (window, last score, last rowid): keyset
  pagination that visits every hit once, no OFFSET. The scores come from rank_bm25() (search/_fts5_rank.c): bm25()'s
  formula, with the length code in the rowid instead of a %_docsize lookup per ranked row, which made ranking about
  4x slower; from bm25() itself when that module is not built.
* but BM25 first counts every match of each scored phrase for its IDF, once per statement, whatever the rowid range:
  ~15 ms for a term in 80 % of 1M documents, ~50 ms for a phrase of two such terms. That is as cheap as the total
  when the match set is within `exact_total_up_to`; above it (total_is_exact=False) relevance falls back to the
  cheap order, recency (document date, newest first; score 0). A cursor keeps the mode of its first page.
* hits are hydrated for the returned rows only; snippets are computed in Python from the original text.

Writes: every upsert/delete is one transaction (WAL, synchronous=NORMAL: durable on commit), rows inserted in rowid
order (FTS5 flushes its pending terms whenever a rowid goes down). `bulk()` is for rebuilds only: synchronous=OFF,
a 1 GiB page cache, one open transaction committed every BULK_COMMIT documents, segments merged at the end.
Connections are per thread; a search reads one snapshot.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import closing, contextmanager
from datetime import timezone
from pathlib import Path
from types import ModuleType
from typing import Iterator

from search import fts5_search
from search.fts5_plan import amount_value
from search.fts5_rowid import GROUP_SPAN, Allocator, Codes
from search.fts5_text import fts_values, token_count
from search.index import IndexRecord, Page, Query
from search.normalize import fold


def _native_rank() -> ModuleType | None:
    """search._fts5_rank when it is built and works with this Python's sqlite3. Otherwise search ranks with bm25():
    the same formula with exact lengths, read from a row per ranked match."""
    try:
        from search import _fts5_rank
        with closing(sqlite3.connect(":memory:")) as probe:
            _fts5_rank.register(probe)
    except (ImportError, RuntimeError):
        return None
    return _fts5_rank


_fts5_rank = _native_rank()

FORMAT = "3:" + fold("Straße ÉŒ ﬁ İ")  # 3: rowids carry a length code
BULK_COMMIT = 50_000
CACHE_KIB, BULK_CACHE_KIB = -65_536, -1_048_576   # page cache: 64 MiB; 1 GiB while bulk() rebuilds
PRAGMAS = ("synchronous=NORMAL", f"cache_size={CACHE_KIB}", "mmap_size=2147418112", "temp_store=MEMORY")
CHUNK = 500
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS docs (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_type TEXT NOT NULL,
        customer_number TEXT NOT NULL, order_number TEXT, title TEXT, document_date TEXT, filed_at TEXT NOT NULL,
        filed_day INTEGER NOT NULL, amount REAL, amount_text TEXT, currency TEXT, status TEXT NOT NULL,
        restricted INTEGER NOT NULL, stamp TEXT NOT NULL, body INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS bodies (b INTEGER PRIMARY KEY, refs TEXT NOT NULL, customer_name TEXT,
        filename TEXT, text TEXT NOT NULL)""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, refs, body, ids, meta, content='',
        tokenize='unicode61 remove_diacritics 2')""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS codes (kind TEXT, value TEXT, code INTEGER, PRIMARY KEY (kind, value))",
    "CREATE UNIQUE INDEX IF NOT EXISTS codes_by_code ON codes (kind, code)",
)
FTS_INSERT = "INSERT INTO fts(rowid, title, refs, body, ids, meta) VALUES (?, ?, ?, ?, ?, ?)"
FTS_DELETE = "INSERT INTO fts(fts, rowid, title, refs, body, ids, meta) VALUES ('delete', ?, ?, ?, ?, ?, ?)"
OLD_COLUMNS = ("d.n, d.id, d.title, b.refs, d.order_number, d.customer_number, b.customer_name, b.filename, b.text, "
               "d.doc_type, d.status, d.body")


class Fts5Index:
    def __init__(self, path: Path, native_rank: bool = True) -> None:
        self.path = Path(path)
        self.ranking = "rank_bm25" if native_rank and _fts5_rank is not None else "bm25"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._codes = Codes()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        with self._writing() as conn:
            self._migrate(conn)
            self._codes.load(conn)

    # -- connections and transactions --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            for pragma in PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            if self.ranking == "rank_bm25":
                _fts5_rank.register(conn)
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
            self._codes.load(conn)  # codes handed out in the rolled-back transaction are gone
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
        for table in ("fts", "docs", "bodies", "codes"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO settings VALUES ('generation', ?)", (uuid.uuid4().hex,))
        self._codes.load(conn)

    @contextmanager
    def bulk(self) -> Iterator[Fts5Index]:
        """For a rebuild (reindex) only: upserts are buffered and written BULK_COMMIT at a time in rowid order (so
        FTS5 writes few, large segments), not durable until the block ends; segments are merged at the end."""
        conn = self._conn()
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(f"PRAGMA cache_size={BULK_CACHE_KIB}")
        conn.execute("BEGIN IMMEDIATE")
        self._local.bulk = {}
        try:
            yield self
            self._flush_bulk(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            self._codes.load(conn)
            raise
        else:
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            conn.execute("COMMIT")
        finally:
            self._local.bulk = None
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA cache_size={CACHE_KIB}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _flush_bulk(self, conn: sqlite3.Connection) -> None:
        pending, self._local.bulk = self._local.bulk, {}
        if pending:
            self._write(conn, list(pending.values()))
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")

    # -- writes -------------------------------------------------------------------------------------------------

    def upsert(self, records: list[IndexRecord]) -> None:
        if getattr(self._local, "bulk", None) is not None:
            self._local.bulk.update((r.id, r) for r in records)
            if len(self._local.bulk) >= BULK_COMMIT:
                self._flush_bulk(self._local.conn)
            return
        latest = list({r.id: r for r in records}.values())
        if latest:
            with self._writing() as conn:
                self._write(conn, latest)

    def _write(self, conn: sqlite3.Connection, latest: list[IndexRecord]) -> None:
        self._codes.sync(conn)
        values = {r.id: fts_values(r.title, r.references, r.order_number, r.customer_number, r.customer_name,
                                   r.filename, r.text, r.doc_type, r.status) for r in latest}
        groups = {r.id: self._codes.group(conn, r.document_date, r.customer_number, r.doc_type, r.status,
                                          token_count(values[r.id])) | int(r.restricted) for r in latest}
        # the top sequences are read before the old rows go: a document that keeps its rowid may hold its group's top
        allocator = Allocator(conn, {group & ~1 for group in groups.values()})
        kept = self._unindex(conn, [r.id for r in latest], groups)
        rows = sorted(((kept.get(r.id) or allocator.rowid(groups[r.id] & ~1, r.restricted), r) for r in latest),
                      key=lambda row: row[0])  # FTS5 flushes its pending terms whenever a rowid goes down
        body = conn.execute("SELECT coalesce(max(b), 0) + 1 FROM bodies").fetchone()[0]  # appended: cheap
        conn.executemany("INSERT INTO bodies VALUES (?, ?, ?, ?, ?)", [
            (body + k, json.dumps(r.references), r.customer_name, r.filename, r.text) for k, (_, r) in enumerate(rows)])
        conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [_doc_row(n, r, body + k) for k, (n, r) in enumerate(rows)])
        conn.executemany(FTS_INSERT, [(n, *values[r.id]) for n, r in rows])

    def delete(self, ids: list[str]) -> None:
        if self._local.bulk:
            self._flush_bulk(self._local.conn)
        if ids:
            with self._writing() as conn:
                self._unindex(conn, list(dict.fromkeys(ids)), {})

    def _unindex(self, conn: sqlite3.Connection, ids: list[str], groups: dict[str, int]) -> dict[str, int]:
        """Removes these documents from all tables; returns {id: rowid} of those whose group (and so rowid)
        stays: their group bits and restricted bit are unchanged."""
        kept = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            old = conn.execute(f"SELECT {OLD_COLUMNS} FROM docs d JOIN bodies b ON b.b = d.body "
                               f"WHERE d.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            if not old:
                continue
            old.sort()
            conn.executemany(FTS_DELETE, [(o[0], *fts_values(o[2], json.loads(o[3]), *o[4:11])) for o in old])
            conn.executemany("DELETE FROM docs WHERE n = ?", [(o[0],) for o in old])
            conn.executemany("DELETE FROM bodies WHERE b = ?", [(o[11],) for o in old])
            kept.update({o[1]: o[0] for o in old
                         if o[1] in groups and o[0] & ~(GROUP_SPAN - 2) == groups[o[1]]})
        return kept

    def clear(self) -> None:
        with self._writing() as conn:
            self._recreate(conn)

    def optimize(self) -> None:
        with self._writing() as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reads --------------------------------------------------------------------------------------------------

    def search(self, query: Query) -> Page:
        conn = self._conn()
        if getattr(self._local, "bulk", None) is not None:
            if self._local.bulk:
                self._flush_bulk(conn)
            return fts5_search.search(conn, self._codes, query, self.ranking)
        conn.execute("BEGIN")  # one snapshot for total, facets and hits
        try:
            self._codes.sync(conn)
            return fts5_search.search(conn, self._codes, query, self.ranking)
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


def _doc_row(n: int, r: IndexRecord, body: int) -> tuple:
    filed_day = r.filed_at.astimezone(timezone.utc).date() if r.filed_at.tzinfo else r.filed_at.date()
    return (n, r.id, r.doc_type, r.customer_number, r.order_number, r.title,
            r.document_date.isoformat() if r.document_date else None, r.filed_at.isoformat(), filed_day.toordinal(),
            amount_value(r.amount), str(r.amount) if r.amount is not None else None, r.currency, r.status,
            int(r.restricted), r.stamp, body)
