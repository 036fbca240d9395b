"""The metadata database seam: an SQLAlchemy URL, SQLite (WAL) by default, PostgreSQL at scale."""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from archive.errors import SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class WriterSlot:
    """SQLite's single writer slot, queued for explicitly: threads on a lock, processes on an flock of a file
    beside the database. A waiting writer wakes the moment the slot frees, instead of sleeping in SQLite's busy
    handler, which polls with growing sleeps."""

    def __init__(self, database_path: str) -> None:
        self.lock_path = f"{database_path}-writer.lock" if database_path not in ("", ":memory:") else None
        self._threads = threading.RLock()
        self._depth = 0
        self._file: tuple[int, Any] | None = None  # (pid, open file): a forked child must open its own

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0 and self.lock_path is not None:
                fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._file is not None:
                fcntl.flock(self._file[1], fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self) -> Any:
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), open(self.lock_path, "a+b"))  # noqa: SIM115 - held for the process
        return self._file[1]


_WRITER_SLOTS: dict[str, WriterSlot] = {}


def make_engine(url: str, *, writer: bool = True, durable: bool = True, **kwargs: Any) -> Engine:
    """`writer=False` gives SQLite read transactions that take no write lock (WAL readers see a snapshot).

    `durable=False` (SQLite) commits with synchronous=NORMAL: for derived, re-doable work only (the outbox
    worker); in WAL mode that survives a crash of the process, though not always a power cut.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url, writer, durable, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {"options": "-c timezone=UTC"})  # times come back in UTC
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, writer: bool, durable: bool, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy drive transactions; pysqlite's implicit BEGIN would defer the write lock.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    lock = _WRITER_SLOTS.setdefault(path, WriterSlot(path)) if writer else None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Nearly every transaction appends to the audit log, so writers take the write lock up front:
        # upgrading a read lock later fails at once with SQLITE_BUSY instead of waiting.
        if lock is not None:
            lock.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    if lock is not None:
        # SQLAlchemy fires these events before it asks the driver to end the transaction, so the statement is run
        # here first: releasing the lock any earlier would let the next writer meet SQLite's busy handler (which
        # sleeps) while this COMMIT is still syncing. The driver's own commit then finds nothing left to do.
        event.listen(engine, "commit", lambda conn: _end_then_release(conn, "COMMIT", lock))
        event.listen(engine, "rollback", lambda conn: _end_then_release(conn, "ROLLBACK", lock))

    return engine


def _end_then_release(conn: Any, statement: str, lock: WriterSlot) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    try:
        if dbapi_connection.in_transaction:
            dbapi_connection.execute(statement)
    except BaseException:
        if dbapi_connection.in_transaction:  # a failed COMMIT: end it here, or the next writer waits forever
            dbapi_connection.execute("ROLLBACK")
        raise
    finally:
        lock.release()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(revisions the database is at, revisions this code expects)."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, set(script.get_heads())


def require_current_schema(engine: Engine) -> None:
    current, expected = schema_revisions(engine)
    if current != expected:
        at = ", ".join(sorted(current)) or "an empty database"
        raise SchemaOutOfDate(
            f"The database schema is at {at} but this version of the archive needs {', '.join(sorted(expected))}. "
            "Run `archive db upgrade` first.")
