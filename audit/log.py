"""The audit log: one append-only, hash-chained table. The encoding is specified in docs/audit-chain.md.

Appends are serialised by the `audit_head` lock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions
already hold the database write lock from BEGIN IMMEDIATE), so seq has no gaps and each event chains to the last.
"""
from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring as _encode_string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.models import AuditEvent, AuditHead

_sha256 = hashlib.sha256
GENESIS_HASH = "sha256:" + "0" * 64
MAX_FIELD_CHARS = 500


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: recorded on every event."""

    name: str
    role: str | None = None
    credential: str | None = None
    scopes: frozenset[str] = frozenset()
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name, role="system", scopes=frozenset({"file", "read", "audit", "admin"}))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the same bytes from any implementation."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_body(seq: int, time: datetime, actor: str, credential: str | None, action: str, subject: str | None,
               outcome: str, ip: str | None, user_agent: str | None, details: dict[str, Any],
               prev_hash: str) -> dict[str, Any]:
    """The hashed body, as a dict: the definition that chained_hash reproduces quickly."""
    return {"seq": seq, "time": isoformat(time), "actor": actor, "credential": credential, "action": action,
            "subject": subject,
            "outcome": outcome, "ip": ip, "user_agent": user_agent, "details": details, "prev_hash": prev_hash}


def event_hash(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def chained_hash(seq: int, time_text: str, actor: str, credential: str | None, action: str, subject: str | None,
                 outcome: str, ip: str | None, user_agent: str | None, details_json: str, prev_hash: str) -> str:
    """event_hash(event_body(...)) built by concatenation, keys in sorted order, from already-canonical details.

    Verification runs this once per event, so it avoids decoding and re-encoding the details.
    """
    # Verification runs this per event: None checks are inline, and only the four nullable columns have them.
    text = (f'{{"action":{_encode_string(action)},"actor":{_encode_string(actor)},'
            f'"credential":{"null" if credential is None else _encode_string(credential)},'
            f'"details":{details_json},"ip":{"null" if ip is None else _encode_string(ip)},'
            f'"outcome":{_encode_string(outcome)},"prev_hash":{_encode_string(prev_hash)},"seq":{seq},'
            f'"subject":{"null" if subject is None else _encode_string(subject)},"time":"{time_text}",'
            f'"user_agent":{"null" if user_agent is None else _encode_string(user_agent)}}}')
    return "sha256:" + _sha256(text.encode("utf-8")).hexdigest()


def row_hash(row: Any) -> str:
    """The hash an iter_events row should carry (`row.details` is the canonical text)."""
    return chained_hash(row.seq, isoformat(row.time), row.actor, row.credential, row.action, row.subject,
                        row.outcome, row.ip, row.user_agent, row.details, row.prev_hash)


def model_hash(event: AuditEvent) -> str:
    return chained_hash(event.seq, isoformat(event.time), event.actor, event.credential, event.action,
                        event.subject, event.outcome, event.ip, event.user_agent, event.details_json, event.prev_hash)


def body_of(event: AuditEvent) -> dict[str, Any]:
    return event_body(event.seq, event.time, event.actor, event.credential, event.action, event.subject, event.outcome,
                      event.ip, event.user_agent, event.details, event.prev_hash)


EVENT_COLUMNS = tuple(AuditEvent.__table__.columns)


def iter_events(session: Session, after_seq: int = 0, up_to: int | None = None,
                batch: int = 10_000) -> Iterator[Any]:
    """Events in seq order as light Core rows (`details` is the canonical text), fetched in batches by seq."""
    session.flush()  # events appended in this transaction are written when the session flushes
    connection = session.connection()
    while True:
        query = select(*EVENT_COLUMNS).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq).limit(batch)
        if up_to is not None:
            query = query.where(AuditEvent.seq <= up_to)
        rows = connection.execute(query).all()
        yield from rows
        if len(rows) < batch:
            return
        after_seq = rows[-1].seq


@dataclass(frozen=True)
class Appended:
    seq: int
    hash: str


def append(session: Session, clock: Clock, actor: Actor, action: str, subject: str | None = None,
           details: dict[str, Any] | None = None, outcome: str = "success") -> Appended:
    """Append one event in the caller's transaction; it commits or rolls back with the change it records."""
    pending = _pending(session)
    _chain(pending, clock, actor, [(action, subject, details)], outcome)
    return Appended(pending.head.seq, pending.head.hash)


def append_many(session: Session, clock: Clock, actor: Actor,
                entries: Iterable[tuple[str, str | None, dict[str, Any]]], outcome: str = "success") -> int:
    """Appends (action, subject, details) entries; for bulk work such as disposition batches.

    Returns the seq of the last event appended (the head's seq if there were none).
    """
    pending = _pending(session)
    _chain(pending, clock, actor, entries, outcome)
    return pending.head.seq


@dataclass
class _Pending:
    """The events a transaction has appended but not yet written, and the head row it holds locked.

    The head is locked once per transaction (or savepoint); the events go to the database in one multi-row INSERT
    when the session next flushes, which it does before any query and at commit (the head is dirty by then).
    """

    scope: tuple[Any, Any]
    head: AuditHead
    rows: list[dict[str, Any]] = field(default_factory=list)


_PENDING = "audit_pending"
_LOCKED_HEAD = "audit_locked_head"


def lock_head(session: Session) -> None:
    """Locks the head in the transaction itself, outside any savepoint, for a transaction whose savepoints append
    one after another (archive.group_commit): they then share that lock instead of each taking it anew."""
    session.info[_LOCKED_HEAD] = (session.get_transaction(), _select_head(session))


def _pending(session: Session) -> _Pending:
    scope = _scope(session)
    pending = session.info.get(_PENDING)
    if pending is None or pending.scope != scope:
        pending = session.info[_PENDING] = _Pending(scope, _head_for(session, scope))
    return pending


def _head_for(session: Session, scope: tuple[Any, Any]) -> AuditHead:
    locked = session.info.get(_LOCKED_HEAD)
    if locked is not None and locked[0] is scope[0]:
        # Held since before this savepoint. If an earlier savepoint that moved it rolled back, the session has
        # expired it, and its next read reloads the row.
        return locked[1]
    return _select_head(session)


def _select_head(session: Session) -> AuditHead:
    return session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def _scope(session: Session) -> tuple[Any, Any]:
    return session.get_transaction(), session.get_nested_transaction()


def _chain(pending: _Pending, clock: Clock, actor: Actor,
           entries: Iterable[tuple[str, str | None, dict[str, Any]]], outcome: str) -> None:
    seq, prev_hash = pending.head.seq, pending.head.hash
    name, credential = _clip(actor.name), _clip(actor.credential)
    ip, user_agent = _clip(actor.ip), _clip(actor.user_agent)
    for action, subject, details in entries:
        seq += 1
        row = {"seq": seq, "time": clock(), "actor": name, "credential": credential, "action": action,
               "subject": _clip(subject), "outcome": outcome, "ip": ip, "user_agent": user_agent,
               "details": _details_text(details), "prev_hash": prev_hash}
        prev_hash = row["hash"] = chained_hash(seq, isoformat(row["time"]), name, credential, action,
                                               row["subject"], outcome, ip, user_agent, row["details"], prev_hash)
        pending.rows.append(row)
    if seq != pending.head.seq:
        pending.head.seq, pending.head.hash = seq, prev_hash


@event.listens_for(Session, "before_flush")
def _write_pending(session: Session, _context: Any, _instances: Any) -> None:
    """Writes the appended events; rows left by a transaction that has since rolled back are dropped."""
    pending = session.info.get(_PENDING)
    if pending is None or not pending.rows:
        return
    rows, pending.rows = pending.rows, []
    if pending.scope != _scope(session):
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(connection, rows)
    else:
        connection.execute(insert(AuditEvent.__table__), rows)


COPY_FROM = 20  # rows; psycopg's executemany sends one INSERT per row, COPY streams them all at once
_COPY_COLUMNS = ("seq", "time", "actor", "credential", "action", "subject", "outcome", "ip", "user_agent", "details",
                 "prev_hash", "hash")


def _copy(connection: Any, rows: list[dict[str, Any]]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY audit_events ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in _COPY_COLUMNS])


@event.listens_for(Session, "before_commit")
def _refuse_unwritten(session: Session) -> None:
    """A commit must never drop an appended event, even if something expired the head behind our back."""
    pending = session.info.get(_PENDING)
    if pending is not None and pending.rows and pending.scope == _scope(session):
        session.flush()
        if pending.rows:
            raise RuntimeError("audit events were appended but not written; the transaction is rolled back")


def _details_text(details: dict[str, Any] | None) -> str:
    return canonical_json(details or {}).decode("utf-8")


def _clip(value: str | None) -> str | None:
    """Bound free-text fields. JSON encoding in the chain and in exports keeps CR/LF and controls inert."""
    return None if value is None else value[:MAX_FIELD_CHARS]
