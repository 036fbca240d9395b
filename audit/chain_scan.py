"""The hot loop of chain verification: recompute and link the hashes of one range of events.

Reads raw driver rows (no ORM, no type processing) and splits a long journal over worker processes, one per core;
verify_chain stitches the ranges together. A range result carries what stitching needs: the first event's
prev_hash, the last event's hash, and the first problem found.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Connection, Engine

from audit.log import chained_hash
from audit.merkle import leaf_hash

FETCH = 20_000
PARALLEL_FROM = 200_000  # below this, starting worker processes costs more than it saves
COLUMNS = "seq, {time}, actor, credential, action, subject, outcome, ip, user_agent, details, prev_hash, hash"
# The database formats the time itself, exactly as archive.clock.isoformat does: parsing a datetime per row only to
# format it again was a quarter of verification's cost. SQLite holds SQLAlchemy's 'YYYY-MM-DD HH:MM:SS.ffffff'.
TIME_AS_TEXT = {"postgresql": """to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
                "sqlite": "substr(time, 1, 10) || 'T' || substr(time, 12) || 'Z'"}


@dataclass
class RangeResult:
    first_seq: int
    count: int = 0
    first_prev_hash: str | None = None
    last_hash: str | None = None
    problem: tuple[int, str] | None = None
    leaves: list[bytes] = field(default_factory=list)


def scan_range(connection: Connection, first_seq: int, last_seq: int, with_leaves: bool,
               recompute: bool = True) -> RangeResult:
    """Checks events first_seq..last_seq: continuity, links inside the range, and (with `recompute`) every hash.

    Without `recompute` it reads three narrow columns: what signing a checkpoint needs. `audit verify` recomputes,
    and a body altered behind its hash is caught there, since the signed root commits to the hashes.
    """
    if not recompute:
        return _walk(connection, first_seq, last_seq, "seq, prev_hash, hash", FETCH * 5, None, with_leaves)

    def recomputed(row: tuple) -> str:
        seq, time_text, *fields, prev_hash, _ = row
        return chained_hash(seq, time_text, *fields, prev_hash)
    columns = COLUMNS.format(time=TIME_AS_TEXT[connection.dialect.name])
    return _walk(connection, first_seq, last_seq, columns, FETCH, recomputed, with_leaves)


def _walk(connection: Connection, first_seq: int, last_seq: int, columns: str, fetch: int,
          recompute: Callable[[tuple], str] | None, with_leaves: bool) -> RangeResult:
    """Rows (seq first, prev_hash and hash last) in seq order; `recompute` gives the hash a row should carry.

    Reads windows of `fetch` seqs rather than LIMIT pages: without table statistics (right after a bulk load)
    PostgreSQL plans a LIMIT page as "sort every row after `after`", which made a long walk quadratic.
    """
    result = RangeResult(first_seq)
    expected, prev, after = first_seq, None, first_seq - 1
    while after < last_seq:
        window_end = min(after + fetch, last_seq)
        rows = connection.exec_driver_sql(
            f"SELECT {columns} FROM audit_events WHERE seq > {int(after)} AND seq <= {int(window_end)} "
            f"ORDER BY seq").fetchall()
        if not rows:
            break  # a whole window missing: reported below as missing events
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
        after = window_end
    result.last_hash = prev
    if expected <= last_seq:
        result.problem = (expected, f"expected seq {expected}, found none: events are missing")
    return result


def scan(engine: Engine, connection: Connection, first_seq: int, last_seq: int, with_leaves: bool,
         recompute: bool = True) -> list[RangeResult]:
    """scan_range over events first_seq..last_seq, in parallel ranges when there are enough to pay off."""
    workers, total = min(os.cpu_count() or 1, 8), last_seq - first_seq + 1
    if total < PARALLEL_FROM or workers == 1 or engine.url.database in (None, "", ":memory:"):
        return [scan_range(connection, first_seq, last_seq, with_leaves, recompute)]
    bounds = [(first_seq + i * total // workers, first_seq + (i + 1) * total // workers - 1) for i in range(workers)]
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_scan_in_worker, [(url, lo, hi, with_leaves, recompute) for lo, hi in bounds]))


def _scan_in_worker(args: tuple[str, int, int, bool, bool]) -> RangeResult:
    from archive.db import make_engine
    url, first_seq, last_seq, with_leaves, recompute = args
    engine = make_engine(url, writer=False)
    try:
        with engine.connect() as connection:
            return scan_range(connection, first_seq, last_seq, with_leaves, recompute)
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
