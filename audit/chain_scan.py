"""The hot loop of chain verification: recompute and link the hashes of one range of events.

Reads raw driver rows (no ORM, no type processing) and splits a long journal over worker processes, one per core;
verify_chain stitches the ranges together. A range result carries what stitching needs: the first event's
prev_hash, the last event's hash, and the first problem found.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Connection, Engine

from archive.clock import isoformat
from audit.log import chained_hash
from audit.merkle import leaf_hash

FETCH = 20_000
_ZERO = timedelta(0)
PARALLEL_FROM = 200_000  # below this, starting worker processes costs more than it saves
COLUMNS = "seq, time, actor, credential, action, subject, outcome, ip, user_agent, details, prev_hash, hash"


@dataclass
class RangeResult:
    first_seq: int
    count: int = 0
    first_prev_hash: str | None = None
    last_hash: str | None = None
    problem: tuple[int, str] | None = None
    leaves: list[bytes] = field(default_factory=list)


def scan_range(connection: Connection, first_seq: int, last_seq: int, with_leaves: bool) -> RangeResult:
    """Checks events first_seq..last_seq: continuity, links inside the range, and every recomputed hash."""
    def recompute(row: tuple) -> str:
        seq, time, *fields, prev_hash, _ = row
        return chained_hash(seq, _iso(time), *fields, prev_hash)
    return _walk(connection, first_seq, last_seq, COLUMNS, FETCH, recompute, with_leaves)


def scan_links(connection: Connection, first_seq: int, last_seq: int) -> RangeResult:
    """Continuity and prev_hash links only, with leaf hashes: what signing a checkpoint needs.

    Reads three narrow columns instead of recomputing every body; `audit verify` does that, and a body altered
    behind its hash is caught there, since the signed root commits to the hashes.
    """
    return _walk(connection, first_seq, last_seq, "seq, prev_hash, hash", FETCH * 5, None, True)


def _walk(connection: Connection, first_seq: int, last_seq: int, columns: str, fetch: int,
          recompute: Callable[[tuple], str] | None, with_leaves: bool) -> RangeResult:
    """Rows (seq first, prev_hash and hash last) in seq order; `recompute` gives the hash a row should carry."""
    result = RangeResult(first_seq)
    expected, prev, after = first_seq, None, first_seq - 1
    while after < last_seq:
        rows = connection.exec_driver_sql(
            f"SELECT {columns} FROM audit_events WHERE seq > {int(after)} AND seq <= {int(last_seq)} "
            f"ORDER BY seq LIMIT {fetch}").fetchall()
        if not rows:
            break
        for row in rows:
            seq, prev_hash, stored = row[0], row[-2], row[-1]
            if result.first_prev_hash is None:
                result.first_prev_hash = prev_hash
            problem = _problem(seq, expected, prev, prev_hash, stored, recompute(row) if recompute else stored)
            if problem:
                result.problem = (min(seq, expected), problem)
                return result
            if with_leaves:
                result.leaves.append(leaf_hash(stored.encode("ascii")))
            prev, expected, result.count = stored, expected + 1, result.count + 1
        after = rows[-1][0]
    result.last_hash = prev
    if expected <= last_seq:
        result.problem = (expected, f"expected seq {expected}, found none: events are missing")
    return result


def scan(engine: Engine, connection: Connection, first_seq: int, last_seq: int,
         with_leaves: bool) -> list[RangeResult]:
    """Events first_seq..last_seq, in parallel ranges when there are enough to pay off."""
    workers, total = min(os.cpu_count() or 1, 8), last_seq - first_seq + 1
    if total < PARALLEL_FROM or workers == 1 or engine.url.database in (None, "", ":memory:"):
        return [scan_range(connection, first_seq, last_seq, with_leaves)]
    bounds = [(first_seq + i * total // workers, first_seq + (i + 1) * total // workers - 1) for i in range(workers)]
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_scan_in_worker, [(url, lo, hi, with_leaves) for lo, hi in bounds]))


def _scan_in_worker(args: tuple[str, int, int, bool]) -> RangeResult:
    from archive.db import make_engine
    url, first_seq, last_seq, with_leaves = args
    engine = make_engine(url, writer=False)
    try:
        with engine.connect() as connection:
            return scan_range(connection, first_seq, last_seq, with_leaves)
    finally:
        engine.dispose()


def _problem(seq: int, expected: int, prev: str | None, prev_hash: str, stored: str, computed: str) -> str | None:
    if seq != expected:
        return f"expected seq {expected}, found {seq}: events are missing or reordered"
    if prev is not None and prev_hash != prev:
        return "prev_hash does not link to the previous event"
    if computed != stored:
        return "the event's content does not match its hash"
    return None


def _iso(value: str | datetime) -> str:
    """PostgreSQL hands back datetimes; SQLite the text SQLAlchemy stored, 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC."""
    if isinstance(value, str) and len(value) == 26:
        return f"{value[:10]}T{value[11:]}Z"
    if isinstance(value, datetime) and value.utcoffset() == _ZERO:  # sessions run in UTC (archive.db)
        return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return isoformat(value if isinstance(value, datetime) else datetime.fromisoformat(value + "+00:00"))


def stitch(ranges: list[RangeResult], prev_hash: str) -> tuple[int, str, tuple[int, str] | None]:
    """Joins range results: (events that check out, the last good hash, the first problem if any)."""
    count = 0
    for part in ranges:
        if part.count and part.first_prev_hash != prev_hash:
            return count, prev_hash, (part.first_seq, "prev_hash does not link to the previous event")
        if part.problem:
            return count + part.count, part.last_hash or prev_hash, part.problem
        count, prev_hash = count + part.count, part.last_hash or prev_hash
    return count, prev_hash, None
