"""Recompute the chain from the first event and report the first one that does not fit."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.checkpoints import verify_checkpoint_signature
from audit.log import GENESIS_HASH, body_of, event_hash
from archive.models import AuditCheckpoint, AuditEvent, AuditHead, DocumentVersion
from audit.merkle import MerkleFrontier, leaf_hash

BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "first_bad_seq": self.first_bad_seq, "reason": self.reason}


def verify_chain(session: Session, checkpoints: list[AuditCheckpoint] | None = None) -> ChainReport:
    """Checks seq continuity, each prev_hash link and each recomputed hash, then the head row's tip.

    Given signed checkpoints, also recomputes the Merkle root at each checkpoint's size from the events as they are
    now: a rewrite of history that kept the chain consistent still changes those roots.
    """
    pending = sorted(checkpoints or [], key=lambda c: c.tree_size)
    frontier, matched = MerkleFrontier(), 0
    expected_seq, prev_hash, count, last_seq = 1, GENESIS_HASH, 0, 0
    while True:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq > last_seq)
                               .order_by(AuditEvent.seq).limit(BATCH)).scalars().all()
        if not rows:
            break
        for event in rows:
            problem = _problem(event, expected_seq, prev_hash)
            if problem:
                return ChainReport(False, count, min(event.seq, expected_seq), problem)
            frontier.append(leaf_hash(event.hash.encode("ascii")))
            prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
            while pending and pending[0].tree_size == count:
                if "sha256:" + frontier.root().hex() != pending[0].root_hash:
                    return ChainReport(False, count, matched + 1,
                                       f"events {matched + 1}..{count} no longer match signed checkpoint "
                                       f"{pending[0].id}: history was rewritten")
                matched = pending.pop(0).tree_size
        last_seq = rows[-1].seq
        session.expunge_all()
    if pending:
        return ChainReport(False, count, count + 1, f"signed checkpoint {pending[0].id} covers "
                                                    f"{pending[0].tree_size} events, only {count} remain")
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


@dataclass(frozen=True)
class JournalReport:
    chain: ChainReport
    checkpoints: int
    bad_signatures: list[int]
    records: RecordsReport

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.bad_signatures and self.records.ok

    def as_dict(self) -> dict:
        return {**self.chain.as_dict(), "ok": self.ok, "checkpoints": self.checkpoints,
                "bad_signatures": self.bad_signatures, "records": self.records.as_dict()}


def verify_journal(session: Session) -> JournalReport:
    """The chain, every signed checkpoint against the events as they are now, and the version rows."""
    checkpoints = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)).all()
    bad = [c.id for c in checkpoints if not verify_checkpoint_signature(session, c)]
    chain = verify_chain(session, list(checkpoints))
    return JournalReport(chain, len(checkpoints), bad, verify_records(session))
