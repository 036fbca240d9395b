"""A second core for one search: independent statements of a search run on helper threads, in its snapshot.

SQLite runs each statement on one thread, and Python's sqlite3 releases the interpreter lock while a statement runs,
so a search can hand a statement (its facets while it ranks, half of a BM25 window while it ranks the other half)
to a helper thread with a connection of its own.

Both must read the same snapshot of the index. Every write transaction increments the `writes` setting
(search.fts5); a helper begins its own read transaction and works only if it reads the value the searcher read in
its snapshot. Otherwise (a write committed in between), or when no helper has started the task by the time its
result is wanted (all busy with other searches), the searcher runs the task itself. Results are therefore those of
one snapshot, with or without helpers.
"""
from __future__ import annotations

import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol

WRITES = "SELECT value FROM settings WHERE key = 'writes'"
_MISSED = object()


class Task(Protocol):
    def result(self) -> Any: ...


class Runner(Protocol):
    """Where a search's side statements run: submit(fn, *args) calls fn(connection, *args), now or later."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task: ...


class Inline:
    """Runs each task on the searcher's connection, when its result is wanted (bulk mode: uncommitted rows)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        return _Deferred(self.conn, fn, args)


class _Deferred:
    def __init__(self, conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple) -> None:
        self.conn, self.fn, self.args = conn, fn, args

    def result(self) -> Any:
        return self.fn(self.conn, *self.args)


class Helpers:
    """A pool of helper threads; each opens its connection with `connect` (thread-local) on first use."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], workers: int) -> None:
        self.connect = connect
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fts5-helper")

    def snapshot(self, conn: sqlite3.Connection) -> Snapshot:
        """A runner for a search whose read transaction on `conn` is open."""
        return Snapshot(self, conn, conn.execute(WRITES).fetchone())

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class Snapshot:
    def __init__(self, helpers: Helpers, conn: sqlite3.Connection, writes: Any) -> None:
        self.helpers, self.conn, self.writes = helpers, conn, writes

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        return _Lent(self, fn, args)


class _Lent:
    def __init__(self, snapshot: Snapshot, fn: Callable[..., Any], args: tuple) -> None:
        self.snapshot, self.fn, self.args = snapshot, fn, args
        self.future: Future = snapshot.helpers.pool.submit(self._on_helper)

    def _on_helper(self) -> Any:
        conn = self.snapshot.helpers.connect()
        conn.execute("BEGIN")
        try:
            if conn.execute(WRITES).fetchone() != self.snapshot.writes:
                return _MISSED
            return self.fn(conn, *self.args)
        finally:
            conn.execute("COMMIT")

    def result(self) -> Any:
        if not self.future.cancel():
            value = self.future.result()
            if value is not _MISSED:
                return value
        return self.fn(self.snapshot.conn, *self.args)
