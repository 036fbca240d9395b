"""Idempotency-Key: the same key with the same bytes gets the same receipt; with other bytes, 409."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.errors import Conflict, InvalidInput
from archive.models import IdempotencyKey
from audit.log import Actor

MAX_KEY_LENGTH = 200


def recall(session: Session, actor: Actor, key: str | None, checksum: str) -> dict[str, Any] | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
                           code="invalid_idempotency_key")
    row = session.get(IdempotencyKey, (actor.name, key))
    if row is None:
        return None
    if row.checksum != checksum:
        raise Conflict("this Idempotency-Key was used with different content", code="idempotency_key_reused",
                       document_id=row.receipt.get("id"))
    return row.receipt


def remember(session: Session, clock: Clock, actor: Actor, key: str | None, checksum: str,
             receipt: dict[str, Any]) -> None:
    if key is not None:
        session.add(IdempotencyKey(principal=actor.name, key=key, checksum=checksum, receipt=receipt,
                                   created_at=clock()))
