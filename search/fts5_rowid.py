"""Rowids of the FTS5 backend carry what sorting, date filters, visibility and facets need, so that none of those
looks a row up:

    bit 62 .. 43   day key: DAY_MAX - ordinal(document_date), NO_DATE without a date (newest = smallest rowid)
        42 .. 29   customer code (0: see the docs table)
        28 .. 25   doc_type code (0: see the docs table)
        24 .. 22   status code (0: see the docs table)
        21 .. 16   length code: the document's tokens, all columns (length_code)
        15 ..  1   sequence within that group
               0   restricted

Rowid order is therefore document_date descending (FTS5 iterates ascending rowids fastest); a date range is one
rowid range; `rowid & 1 = 0` hides restricted documents; facets decode the matching rowids; BM25 takes the length
from the rowid (search/_fts5_rank.c), not from a row. Codes are handed out once per value (table `codes`) and never
change; values beyond a field's codes fall back to code 0, whose documents are looked up. A full group lends its
rowids from the nearest length codes, then from customer code 0.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from typing import Iterator

DAY_SHIFT, CUSTOMER_SHIFT, TYPE_SHIFT, STATUS_SHIFT, LENGTH_SHIFT, SEQ_SHIFT = 43, 29, 25, 22, 16, 1
NO_DATE = (1 << 20) - 1
DAY_MAX = NO_DATE - 1
LENGTH_MASK = 63
GROUP_SPAN = 1 << LENGTH_SHIFT     # rowids of one (day, customer, type, status, length) group
SEQ_MAX = (1 << (LENGTH_SHIFT - SEQ_SHIFT)) - 1
MAX_ROWID = (1 << 63) - 1
FIELDS = {"c": (CUSTOMER_SHIFT, (1 << 14) - 1), "t": (TYPE_SHIFT, 15), "s": (STATUS_SHIFT, 7)}
ASSIGN_CHUNK = 500  # (kind, value) pairs per statement: 1,500 parameters at most, far below SQLite's limit


def day_key(day: date | None) -> int:
    return NO_DATE if day is None else DAY_MAX - min(day.toordinal(), DAY_MAX)


def length_code(tokens: int) -> int:
    """Six bits, as Lucene's norms: 0-7 exact, then four steps per doubling (two mantissa bits, at most 25 % apart);
    131,072 tokens and more share code 63."""
    if tokens < 8:
        return max(tokens, 0)
    exponent = tokens.bit_length() - 3
    return min(4 * exponent + (tokens >> exponent), LENGTH_MASK)


def length_of(code: int) -> int:
    """The smallest length of the code (search/_fts5_rank.c decodes the same way)."""
    return code if code < 8 else ((code & 3) + 4) << ((code >> 2) - 1)


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
        self._full: set[str] = set()  # kinds whose codes are all taken: a new value gets 0, with no query
        self._generation: str | None = None

    def load(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT kind, value, code FROM codes").fetchall()
        generation = conn.execute("SELECT value FROM settings WHERE key = 'generation'").fetchone()
        with self._lock:
            self._codes = {(k, v): c for k, v, c in rows}
            self._values = {(k, c): v for k, v, c in rows}
            self._full = set()
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
            self.assign(conn, {(kind, value)})
            found = self._codes.get((kind, value), 0)
        return found

    def assign(self, conn: sqlite3.Connection, wanted: set[tuple[str, str]]) -> None:
        """Inside a write transaction: codes for all these (kind, value) pairs, read or assigned in three statements
        however many there are (up to ASSIGN_CHUNK), not three per value. A kind whose codes are all taken gives
        its new values none (code() then gives 0), and later ones without a query."""
        missing = sorted(pair for pair in wanted if pair not in self._codes and pair[0] not in self._full)
        for start in range(0, len(missing), ASSIGN_CHUNK):
            self._assign(conn, missing[start:start + ASSIGN_CHUNK])

    def _assign(self, conn: sqlite3.Connection, missing: list[tuple[str, str]]) -> None:
        pairs = ", ".join(["(?, ?)"] * len(missing))
        found = conn.execute(f"SELECT kind, value, code FROM codes WHERE (kind, value) IN (VALUES {pairs})",
                             [part for pair in missing for part in pair]).fetchall()
        known = {(kind, value) for kind, value, _ in found}
        tops = dict(conn.execute("SELECT kind, max(code) FROM codes GROUP BY kind").fetchall())
        new = []
        for kind, value in (pair for pair in missing if pair not in known):
            top = tops.get(kind, 0)
            if top < FIELDS[kind][1]:
                tops[kind] = top + 1
                new.append((kind, value, top + 1))
            else:
                self._full.add(kind)
        if new:
            conn.execute(f"INSERT INTO codes VALUES {', '.join(['(?, ?, ?)'] * len(new))}",
                         [part for row in new for part in row])
        with self._lock:
            for kind, value, code in found + new:
                self._codes[(kind, value)] = code
                self._values[(kind, code)] = value

    def value(self, conn: sqlite3.Connection, kind: str, code: int) -> str | None:
        found = self._values.get((kind, code))
        if found is None and code:
            self.load(conn)  # assigned by another connection since
            found = self._values.get((kind, code))
        return found

    def group(self, conn: sqlite3.Connection, day: date | None, customer: str, doc_type: str, status: str,
              tokens: int) -> int:
        return (day_key(day) << DAY_SHIFT | self.code(conn, "c", customer) << CUSTOMER_SHIFT
                | self.code(conn, "t", doc_type) << TYPE_SHIFT | self.code(conn, "s", status) << STATUS_SHIFT
                | length_code(tokens) << LENGTH_SHIFT)


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
        for base in _lenders(group):
            self._read({base})
            seq = self.next[base]
            if seq <= SEQ_MAX:
                self.next[base] = seq + 1
                return base | seq << SEQ_SHIFT | int(restricted)
        raise OverflowError("more than 2**21 documents of one date, customer, type and status")


def _lenders(group: int) -> Iterator[int]:
    """The group, then its neighbours by length code (a length off by a few codes only nudges the score), then the
    same with customer code 0."""
    nearest = _NEAREST[group >> LENGTH_SHIFT & LENGTH_MASK]
    for owner in dict.fromkeys((group, group & ~(FIELDS["c"][1] << CUSTOMER_SHIFT))):
        for other in nearest:
            yield owner & ~(LENGTH_MASK << LENGTH_SHIFT) | other << LENGTH_SHIFT


_NEAREST = [sorted(range(LENGTH_MASK + 1), key=lambda other: (abs(other - code), other))
            for code in range(LENGTH_MASK + 1)]  # sorted once: per rowid, the sort was 8 % of a bulk build
