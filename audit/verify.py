"""Recompute the chain from the first event and report the first one that does not fit."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.log import GENESIS_HASH, body_of, event_hash
from archive.models import AuditEvent, AuditHead, DocumentVersion

BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "first_bad_seq": self.first_bad_seq, "reason": self.reason}


def verify_chain(session: Session) -> ChainReport:
    """Checks seq continuity, each prev_hash link and each recomputed hash, then the head row's tip."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    last_seq = 0
    while True:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq > last_seq)
                               .order_by(AuditEvent.seq).limit(BATCH)).scalars().all()
        if not rows:
            break
        for event in rows:
            problem = _problem(event, expected_seq, prev_hash)
            if problem:
                return ChainReport(False, count, min(event.seq, expected_seq), problem)
            prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
        last_seq = rows[-1].seq
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is None or head.seq != count or head.hash != prev_hash:
        return ChainReport(False, count, count + 1 if head and head.seq > count else max(count, 1),
                           "the chain's tip does not match the recorded head: events are missing at the end")
    return ChainReport(True, count, None)


def _problem(event: AuditEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"expected seq {expected_seq}, found {event.seq}: events are missing or reordered"
    if event.prev_hash != prev_hash:
        return "prev_hash does not link to the previous event"
    if event_hash(body_of(event)) != event.hash:
        return "the event's content does not match its hash"
    return None


@dataclass(frozen=True)
class RecordsReport:
    ok: bool
    versions: int
    mismatches: list[dict]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "versions": self.versions, "mismatches": self.mismatches}


RECORDING_ACTIONS = ("document.filed", "document.version_added")


def verify_records(session: Session) -> RecordsReport:
    """Every version row must match the checksum and size its filing event recorded, and vice versa."""
    recorded: dict[tuple[str, int], tuple[str, int]] = {}
    for subject, details in session.execute(select(AuditEvent.subject, AuditEvent.details)
                                            .where(AuditEvent.action.in_(RECORDING_ACTIONS))):
        recorded[(subject.removeprefix("document:"), details["version"])] = (details["checksum"], details["size"])
    mismatches, count = [], 0
    for document_id, number, checksum, size in session.execute(
            select(DocumentVersion.document_id, DocumentVersion.number, DocumentVersion.checksum,
                   DocumentVersion.size)):
        count += 1
        expected = recorded.pop((document_id, number), None)
        if expected != (checksum, size):
            mismatches.append({"document_id": document_id, "version": number, "row": [checksum, size],
                               "recorded": list(expected) if expected else None})
    mismatches += [{"document_id": d, "version": v, "row": None, "recorded": list(e)}
                   for (d, v), e in recorded.items()]
    return RecordsReport(not mismatches, count, mismatches[:100])
