"""Rowids of the FTS5 backend carry what sorting, date filters, visibility and facets need, so that none of those
looks a row up:

    bit 62 .. 43   day key: DAY_MAX - ordinal(document_date), NO_DATE without a date (newest = smallest rowid)
        42 .. 29   customer code (0: see the docs table)
        28 .. 25   doc_type code (0: see the docs table)
        24 .. 22   status code (0: see the docs table)
        21 ..  1   sequence within that group
               0   restricted

Rowid order is therefore document_date descending (FTS5 iterates ascending rowids fastest); a date range is one
rowid range; `rowid & 1 = 0` hides restricted documents; facets decode the matching rowids. Codes are handed out
once per value (table `codes`) and never change; values beyond a field's codes, and a group whose sequence is full,
fall back to code 0, whose documents are looked up.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date

DAY_SHIFT, CUSTOMER_SHIFT, TYPE_SHIFT, STATUS_SHIFT, SEQ_SHIFT = 43, 29, 25, 22, 1
NO_DATE = (1 << 20) - 1
DAY_MAX = NO_DATE - 1
GROUP_SPAN = 1 << STATUS_SHIFT     # rowids of one (day, customer, type, status) group
SEQ_MAX = (1 << (STATUS_SHIFT - SEQ_SHIFT)) - 1
MAX_ROWID = (1 << 63) - 1
FIELDS = {"c": (CUSTOMER_SHIFT, (1 << 14) - 1), "t": (TYPE_SHIFT, 15), "s": (STATUS_SHIFT, 7)}


def day_key(day: date | None) -> int:
    return NO_DATE if day is None else DAY_MAX - min(day.toordinal(), DAY_MAX)


def date_range(lo: date | None, hi: date | None) -> tuple[int, int]:
    """Rowids of documents dated lo..hi (inclusive; None: unbounded, but never the undated)."""
    first = day_key(hi) << DAY_SHIFT if hi is not None else 0
    last = ((day_key(lo) + 1) << DAY_SHIFT) - 1 if lo is not None else (DAY_MAX << DAY_SHIFT) - 1
    return first, last


def day_of(rowid: int) -> date | None:
    key = rowid >> DAY_SHIFT
    return None if key == NO_DATE else date.fromordinal(DAY_MAX - key)


class Codes:
    """value <-> small integer per field (c: customer number, t: doc_type, s: status), cached; append-only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str], int] = {}
        self._values: dict[tuple[str, int], str] = {}
        self._generation: str | None = None

    def load(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT kind, value, code FROM codes").fetchall()
        generation = conn.execute("SELECT value FROM settings WHERE key = 'generation'").fetchone()
        with self._lock:
            self._codes = {(k, v): c for k, v, c in rows}
            self._values = {(k, c): v for k, v, c in rows}
            self._generation = generation[0] if generation else None

    def sync(self, conn: sqlite3.Connection) -> None:
        """Reloads when the index was emptied (by any process) since: codes are handed out anew after a clear."""
        generation = conn.execute("SELECT value FROM settings WHERE key = 'generation'").fetchone()
        if (generation[0] if generation else None) != self._generation:
            self.load(conn)

    def code(self, conn: sqlite3.Connection, kind: str, value: str) -> int:
        """Inside a write transaction: the value's code, assigning the next free one; 0 when all are taken."""
        found = self._codes.get((kind, value))
        if found is None:
            row = conn.execute("SELECT code FROM codes WHERE kind = ? AND value = ?", (kind, value)).fetchone()
            if row is None:
                top = conn.execute("SELECT coalesce(max(code), 0) FROM codes WHERE kind = ?", (kind,)).fetchone()[0]
                if top >= FIELDS[kind][1]:
                    return 0
                row = (top + 1,)
                conn.execute("INSERT INTO codes VALUES (?, ?, ?)", (kind, value, row[0]))
            found = row[0]
            with self._lock:
                self._codes[(kind, value)] = found
                self._values[(kind, found)] = value
        return found

    def value(self, conn: sqlite3.Connection, kind: str, code: int) -> str | None:
        found = self._values.get((kind, code))
        if found is None and code:
            self.load(conn)  # assigned by another connection since
            found = self._values.get((kind, code))
        return found

    def group(self, conn: sqlite3.Connection, day: date | None, customer: str, doc_type: str, status: str) -> int:
        return (day_key(day) << DAY_SHIFT | self.code(conn, "c", customer) << CUSTOMER_SHIFT
                | self.code(conn, "t", doc_type) << TYPE_SHIFT | self.code(conn, "s", status) << STATUS_SHIFT)


class Allocator:
    """Fresh rowids for one write transaction: the top sequence of every group involved is read in one statement;
    a full group falls back to its customer-0 group."""

    def __init__(self, conn: sqlite3.Connection, groups: set[int]) -> None:
        self.conn = conn
        self.next: dict[int, int] = {}
        self._read(groups)

    def _read(self, groups: set[int]) -> None:
        wanted = sorted(g for g in groups if g not in self.next)
        if wanted:
            rows = self.conn.execute(
                "SELECT j.value, (SELECT max(n) FROM docs WHERE n BETWEEN j.value AND j.value + ?) "
                "FROM json_each(?) AS j", (GROUP_SPAN - 1, json.dumps(wanted))).fetchall()
            self.next.update({g: ((top - g) >> SEQ_SHIFT) + 1 if top is not None else 1 for g, top in rows})

    def rowid(self, group: int, restricted: bool) -> int:
        fallback = group & ~(((1 << 14) - 1) << CUSTOMER_SHIFT)
        for base in (group, fallback):
            self._read({base})
            seq = self.next[base]
            if seq <= SEQ_MAX:
                self.next[base] = seq + 1
                return base | seq << SEQ_SHIFT | int(restricted)
        raise OverflowError("more than 2**21 documents of one date, customer, type and status")
