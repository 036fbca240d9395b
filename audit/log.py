"""The audit log: one append-only, hash-chained table. The encoding is specified in docs/audit-chain.md.

Appends are serialised by the `audit_head` lock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions
already hold the database write lock from BEGIN IMMEDIATE), so seq has no gaps and each event chains to the last.
"""
from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring as _encode_string
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.models import AuditEvent, AuditHead

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
    text = (f'{{"action":{_string(action)},"actor":{_string(actor)},"credential":{_string(credential)},'
            f'"details":{details_json},'
            f'"ip":{_string(ip)},"outcome":{_string(outcome)},"prev_hash":{_string(prev_hash)},"seq":{seq},'
            f'"subject":{_string(subject)},"time":"{time_text}","user_agent":{_string(user_agent)}}}')
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def append(session: Session, clock: Clock, actor: Actor, action: str, subject: str | None = None,
           details: dict[str, Any] | None = None, outcome: str = "success") -> AuditEvent:
    """Append one event in the caller's transaction; it commits or rolls back with the change it records."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    event = AuditEvent(seq=head.seq + 1, time=clock(), actor=_clip(actor.name), credential=_clip(actor.credential),
                       action=action,
                       subject=_clip(subject), outcome=outcome, ip=_clip(actor.ip),
                       user_agent=_clip(actor.user_agent), details_json=_details_text(details),
                       prev_hash=head.hash)
    event.hash = model_hash(event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


def append_many(session: Session, clock: Clock, actor: Actor,
                entries: Iterable[tuple[str, str | None, dict[str, Any]]], outcome: str = "success") -> int:
    """Appends (action, subject, details) entries in one statement; for bulk work such as disposition batches.

    Returns the seq of the last event appended (the head's seq if there were none).
    """
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    rows, seq, prev_hash = [], head.seq, head.hash
    name, credential = _clip(actor.name), _clip(actor.credential)
    ip, user_agent = _clip(actor.ip), _clip(actor.user_agent)
    for action, subject, details in entries:
        seq += 1
        row = {"seq": seq, "time": clock(), "actor": name, "credential": credential, "action": action,
               "subject": _clip(subject), "outcome": outcome, "ip": ip, "user_agent": user_agent,
               "details": _details_text(details), "prev_hash": prev_hash}
        prev_hash = row["hash"] = chained_hash(seq, isoformat(row["time"]), name, credential, action,
                                               row["subject"], outcome, ip, user_agent, row["details"], prev_hash)
        rows.append(row)
    if rows:
        session.execute(insert(AuditEvent.__table__), rows)
        head.seq, head.hash = seq, prev_hash
        session.flush()
    return seq


def _details_text(details: dict[str, Any] | None) -> str:
    return canonical_json(details or {}).decode("utf-8")


def _string(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def _clip(value: str | None) -> str | None:
    """Bound free-text fields. JSON encoding in the chain and in exports keeps CR/LF and controls inert."""
    return None if value is None else value[:MAX_FIELD_CHARS]
