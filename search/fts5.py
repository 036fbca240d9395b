"""The embedded search index: SQLite FTS5 in a file of its own (WAL), the default SearchIndex.

Layout. `fts` is a contentless FTS5 table (title, refs, body, ids, meta) of folded text (search.normalize.fold, so
search ignores case and accents and `strasse` finds `Straße`): refs holds the references, order and customer
numbers, body the text, filename and customer name, ids those identifier_keys() of the numbers that join segments,
meta one token per filter value; ids and meta tokens are marked so that no typed word reaches them
(search/fts5_text.py). `docs` holds the displayed and range-filtered fields, `bodies` (appended, so bulk loads stay
sequential) the original text for snippets and for the 'delete' that a contentless table needs: the folded values
are recomputed from it, and the `format` setting records how text was folded; an index folded differently is
emptied, for a reindex to refill.

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
  4x slower (so %_docsize is not kept: columnsize=0); from bm25() itself when that module is not built.
* but BM25 first counts every match of each scored phrase for its IDF, once per statement, whatever the rowid range:
  ~15 ms for a term in 80 % of 1M documents, ~50 ms for a phrase of two such terms. That is as cheap as the total
  when the match set is within `exact_total_up_to`; above it (total_is_exact=False) relevance falls back to the
  cheap order, recency (document date, newest first; score 0). A cursor keeps the mode of its first page.
* hits are hydrated for the returned rows only; snippets are computed in Python from the original text.

Writes: every upsert/delete is one transaction (WAL, synchronous=NORMAL: durable on commit), rows inserted in rowid
order (FTS5 flushes its pending terms whenever a rowid goes down). `bulk()` is for rebuilds: BULK_COMMIT documents
per transaction, FTS5's pending terms flushed per commit only (hashsize), segments merged by optimize() at the end.
Neither synchronous=OFF, a 1 GiB page cache nor a writer thread overlapping the Python preparation with SQLite made
it faster. Connections are per thread; a search reads one snapshot.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import closing, contextmanager
from datetime import timezone
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, NamedTuple

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

FORMAT = "5:" + fold("Straße ÉŒ ﬁ İ")  # 3: length codes in rowids; 4: no %_docsize; 5: no one-segment ids
BULK_COMMIT = 20_000  # documents per bulk() transaction: 50,000 took twice the memory for no gain
CACHE_KIB = -65_536  # page cache: 64 MiB (a larger one made bulk() builds no faster)
# FTS5 writes its pending terms out as a segment whenever they pass `hashsize` (default 1 MiB) and at every commit.
# Only a transaction of thousands of documents (bulk()) reaches 1 MiB: it then writes one segment per commit instead
# of dozens, and merges that much less (builds of 60k documents took 10-20 % less time).
HASH_BYTES = 1 << 28
# FTS5 merges segments as it writes them: each flush does merge work in proportion to the index's levels, so a
# commit at 1M documents took 3-4x as long as one at 100k. A bulk load merges once instead, in optimize() at the end:
# no automerge, and up to 64 segments on a level before a forced merge (a build of 1M documents makes 50).
NORMAL_MERGE = {"automerge": 4, "crisismerge": 16}  # FTS5's defaults
BULK_MERGE = {"automerge": 0, "crisismerge": 64}
PRAGMAS = ("synchronous=NORMAL", f"cache_size={CACHE_KIB}", "mmap_size=2147418112", "temp_store=MEMORY")
CHUNK = 500
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS docs (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_type TEXT NOT NULL,
        customer_number TEXT NOT NULL, order_number TEXT, title TEXT, document_date TEXT, filed_at TEXT NOT NULL,
        filed_day INTEGER NOT NULL, amount REAL, amount_text TEXT, currency TEXT, status TEXT NOT NULL,
        restricted INTEGER NOT NULL, stamp TEXT NOT NULL, body INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS bodies (b INTEGER PRIMARY KEY, refs TEXT NOT NULL, customer_name TEXT,
        filename TEXT, text TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS codes (kind TEXT, value TEXT, code INTEGER, PRIMARY KEY (kind, value))",
    "CREATE UNIQUE INDEX IF NOT EXISTS codes_by_code ON codes (kind, code)",
)
# rank_bm25() takes lengths from the rowid: FTS5's table of row lengths (%_docsize, columnsize=1) would only be
# written, at random places since rowids follow document dates, which took 10 % of a build of 1M documents.
FTS_TABLE = ("CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, refs, body, ids, meta, content='', "
             "columnsize={columnsize}, tokenize='unicode61 remove_diacritics 2')")
FTS_INSERT = "INSERT INTO fts(rowid, title, refs, body, ids, meta) VALUES (?, ?, ?, ?, ?, ?)"
FTS_DELETE = "INSERT INTO fts(fts, rowid, title, refs, body, ids, meta) VALUES ('delete', ?, ?, ?, ?, ?, ?)"
OLD_COLUMNS = ("d.n, d.id, d.title, b.refs, d.order_number, d.customer_number, b.customer_name, b.filename, b.text, "
               "d.doc_type, d.status, d.body")


class Fts5Index:
    def __init__(self, path: Path, native_rank: bool = True) -> None:
        self.path = Path(path)
        self.ranking = "rank_bm25" if native_rank and _fts5_rank is not None else "bm25"
        # bm25() needs %_docsize: opened without the module, an index without it is emptied for a reindex
        lengths = self.ranking == "bm25"
        self._schema = (*SCHEMA, FTS_TABLE.format(columnsize=int(lengths)))
        self._format = FORMAT + (":docsize" if lengths else "")
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
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            self._codes.load(conn)  # codes handed out in the rolled-back transaction are gone
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for statement in self._schema:
            conn.execute(statement)
        row = conn.execute("SELECT value FROM settings WHERE key = 'format'").fetchone()
        if row is not None and row[0] != self._format:
            self._recreate(conn)  # folded or laid out differently: the index is derived data, a reindex refills it
        conn.execute("INSERT OR REPLACE INTO settings VALUES ('format', ?)", (self._format,))
        self._configure(conn)

    def _configure(self, conn: sqlite3.Connection) -> None:
        """FTS5's settings, kept in the fts table (so set again when clear() recreates it)."""
        if conn.execute("SELECT v FROM fts_config WHERE k = 'hashsize'").fetchone() != (HASH_BYTES,):
            conn.execute("INSERT INTO fts(fts, rank) VALUES ('hashsize', ?)", (HASH_BYTES,))
        self._set_merge(conn, NORMAL_MERGE)  # a bulk load that died left BULK_MERGE behind

    @staticmethod
    def _set_merge(conn: sqlite3.Connection, policy: dict[str, int]) -> None:
        current = dict(conn.execute("SELECT k, v FROM fts_config WHERE k IN ('automerge', 'crisismerge')"))
        for key, value in policy.items():
            if current.get(key, NORMAL_MERGE[key]) != value:
                conn.execute("INSERT INTO fts(fts, rank) VALUES (?, ?)", (key, value))

    def _recreate(self, conn: sqlite3.Connection) -> None:
        for table in ("fts", "docs", "bodies", "codes"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in self._schema:
            conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO settings VALUES ('generation', ?)", (uuid.uuid4().hex,))
        self._codes.load(conn)

    @contextmanager
    def bulk(self, committed: Callable[[str], None] | None = None) -> Iterator[Fts5Index]:
        """For a rebuild: upserts in this thread are buffered and written BULK_COMMIT at a time, one transaction
        each, in rowid order (so FTS5 writes few, large segments). After each commit, `committed` is called with
        the id of the last record written, in upsert order: a rebuild in id order resumes after it. No transaction
        stays open between batches. Segments are merged by optimize(), which a rebuild calls after (BULK_MERGE)."""
        with self._writing() as conn:
            self._set_merge(conn, BULK_MERGE)
        self._local.bulk, self._local.committed = {}, committed
        try:
            yield self
            self._flush_bulk()
        finally:
            self._local.bulk = None
            with self._writing() as conn:
                self._set_merge(conn, NORMAL_MERGE)

    def _flush_bulk(self) -> None:
        """Inside bulk(): writes what is buffered (also before this thread deletes or searches)."""
        if not getattr(self._local, "bulk", None):
            return
        records, self._local.bulk = list(self._local.bulk.values()), {}
        with self._writing() as conn:
            self._write(conn, list(_prepared(records).values()))
        if self._local.committed is not None:
            self._local.committed(records[-1].id)

    # -- writes -------------------------------------------------------------------------------------------------

    def upsert(self, records: list[IndexRecord]) -> None:
        buffered = getattr(self._local, "bulk", None)
        if buffered is not None:
            buffered.update((r.id, r) for r in records)
            if len(buffered) >= BULK_COMMIT:
                self._flush_bulk()
            return
        if records:
            with self._writing() as conn:
                self._write(conn, list(_prepared(records).values()))

    def _write(self, conn: sqlite3.Connection, latest: list[_Row]) -> None:
        self._codes.sync(conn)
        self._codes.assign(conn, {pair for row in latest for pair in _code_values(row.record)})
        ids = [row.record.id for row in latest]
        groups = {i: self._group(conn, row) for i, row in zip(ids, latest)}
        # the top sequences are read before the old rows go: a document that keeps its rowid may hold its group's top
        allocator = Allocator(conn, {group & ~1 for group in groups.values()})
        kept = self._unindex(conn, ids, groups)
        rows = sorted(((kept.get(i) or allocator.rowid(groups[i] & ~1, row.record.restricted), row)
                       for i, row in zip(ids, latest)),
                      key=itemgetter(0))  # FTS5 flushes its pending terms whenever a rowid goes down
        body = conn.execute("SELECT coalesce(max(b), 0) + 1 FROM bodies").fetchone()[0]  # appended: cheap
        conn.executemany("INSERT INTO bodies VALUES (?, ?, ?, ?, ?)",
                         [(body + k, *row.body) for k, (_, row) in enumerate(rows)])
        conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(n, *row.doc, body + k) for k, (n, row) in enumerate(rows)])
        conn.executemany(FTS_INSERT, [(n, *row.values) for n, row in rows])

    def _group(self, conn: sqlite3.Connection, row: _Row) -> int:
        r = row.record
        return self._codes.group(conn, r.document_date, r.customer_number, r.doc_type, r.status,
                                 row.tokens) | int(r.restricted)

    def delete(self, ids: list[str]) -> None:
        self._flush_bulk()
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
        self._flush_bulk()
        with self._writing() as conn:
            self._recreate(conn)
            self._configure(conn)

    def optimize(self) -> None:
        self._flush_bulk()
        with self._writing() as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reads --------------------------------------------------------------------------------------------------

    def search(self, query: Query) -> Page:
        self._flush_bulk()
        conn = self._conn()
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


class _Row(NamedTuple):
    """A record ready to write: its FTS5 column values (fts_values), their token count (for the length code), and
    its `docs` and `bodies` columns, but for the rowid and body number, which the write assigns."""
    record: IndexRecord
    values: tuple[str, str, str, str, str]
    tokens: int
    doc: tuple
    body: tuple


def _prepared(records: list[IndexRecord]) -> dict[str, _Row]:
    """{id: row}, the last record of each id."""
    rows = {}
    for r in records:
        values = fts_values(r.title, r.references, r.order_number, r.customer_number, r.customer_name, r.filename,
                            r.text, r.doc_type, r.status)
        rows[r.id] = _Row(r, values, token_count(values), _doc_columns(r),
                          (json.dumps(r.references), r.customer_name, r.filename, r.text))
    return rows


def _code_values(r: IndexRecord) -> tuple[tuple[str, str], ...]:
    return ("c", r.customer_number), ("t", r.doc_type), ("s", r.status)


def _doc_columns(r: IndexRecord) -> tuple:
    filed_day = r.filed_at.astimezone(timezone.utc).date() if r.filed_at.tzinfo else r.filed_at.date()
    return (r.id, r.doc_type, r.customer_number, r.order_number, r.title,
            r.document_date.isoformat() if r.document_date else None, r.filed_at.isoformat(), filed_day.toordinal(),
            amount_value(r.amount), str(r.amount) if r.amount is not None else None, r.currency, r.status,
            int(r.restricted), r.stamp)
