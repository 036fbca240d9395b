"""The audit log: one append-only, hash-chained table. The encoding is specified in docs/audit-chain.md.

Appends are serialised by the `audit_head` lock row (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions
already hold the database write lock from BEGIN IMMEDIATE), so seq has no gaps and each event chains to the last.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
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


def event_body(seq: int, time: datetime, actor: str, action: str, subject: str | None, outcome: str,
               ip: str | None, user_agent: str | None, details: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    return {"seq": seq, "time": isoformat(time), "actor": actor, "action": action, "subject": subject,
            "outcome": outcome, "ip": ip, "user_agent": user_agent, "details": details, "prev_hash": prev_hash}


def event_hash(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def body_of(event: AuditEvent) -> dict[str, Any]:
    return event_body(event.seq, event.time, event.actor, event.action, event.subject, event.outcome,
                      event.ip, event.user_agent, event.details, event.prev_hash)


def append(session: Session, clock: Clock, actor: Actor, action: str, subject: str | None = None,
           details: dict[str, Any] | None = None, outcome: str = "success") -> AuditEvent:
    """Append one event in the caller's transaction; it commits or rolls back with the change it records."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    event = AuditEvent(seq=head.seq + 1, time=clock(), actor=_clip(actor.name), action=action,
                       subject=_clip(subject), outcome=outcome, ip=_clip(actor.ip),
                       user_agent=_clip(actor.user_agent), details=details or {}, prev_hash=head.hash)
    event.hash = event_hash(body_of(event))
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


def _clip(value: str | None) -> str | None:
    """Bound free-text fields. JSON encoding in the chain and in exports keeps CR/LF and controls inert."""
    return None if value is None else value[:MAX_FIELD_CHARS]
