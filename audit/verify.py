"""Recompute the chain from the first event and report the first one that does not fit."""
from __future__ import annotations

import json
from dataclasses import dataclass


from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.checkpoints import verify_checkpoint_signature
from audit.chain_scan import scan, stitch
from audit.log import GENESIS_HASH
from archive.models import AuditCheckpoint, AuditEvent, AuditHead, DocumentVersion
from audit.merkle import MerkleTree


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
    head = session.get(AuditHead, 1)
    last = max(head.seq if head else 0, session.scalar(select(func.max(AuditEvent.seq))) or 0)
    ranges = scan(session.get_bind(), session.connection(), 1, last, with_leaves=bool(checkpoints))
    count, prev_hash, problem = stitch(ranges, GENESIS_HASH)
    if problem:
        return ChainReport(False, count, *problem)
    if checkpoints:
        problem = _checkpoint_problem(checkpoints, [leaf for part in ranges for leaf in part.leaves])
        if problem:
            return problem
    if head is None or head.seq != count or head.hash != prev_hash:
        return ChainReport(False, count, count + 1 if head and head.seq > count else max(count, 1),
                           "the chain's tip does not match the recorded head: events are missing at the end")
    return ChainReport(True, count, None)


def _checkpoint_problem(checkpoints: list[AuditCheckpoint], leaves: list[bytes]) -> ChainReport | None:
    tree, matched = MerkleTree(leaves), 0
    for checkpoint in sorted(checkpoints, key=lambda c: c.tree_size):
        if checkpoint.tree_size > len(leaves):
            return ChainReport(False, len(leaves), len(leaves) + 1, f"signed checkpoint {checkpoint.id} covers "
                               f"{checkpoint.tree_size} events, only {len(leaves)} remain")
        if "sha256:" + tree.root(checkpoint.tree_size).hex() != checkpoint.root_hash:
            return ChainReport(False, len(leaves), matched + 1,
                               f"events {matched + 1}..{checkpoint.tree_size} no longer match signed checkpoint "
                               f"{checkpoint.id}: history was rewritten")
        matched = checkpoint.tree_size
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
    for subject, details_json in session.execute(select(AuditEvent.subject, AuditEvent.details_json)
                                                 .where(AuditEvent.action.in_(RECORDING_ACTIONS))):
        details = json.loads(details_json)
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
        reason = self.chain.reason or (f"checkpoint signatures do not verify: {self.bad_signatures}"
                                       if self.bad_signatures else None) or (
            "version rows disagree with their filing events" if not self.records.ok else None)
        return {**self.chain.as_dict(), "ok": self.ok, "reason": reason, "checkpoints": self.checkpoints,
                "bad_signatures": self.bad_signatures, "records": self.records.as_dict()}


def verify_journal(session: Session) -> JournalReport:
    """The chain, every signed checkpoint against the events as they are now, and the version rows."""
    checkpoints = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)).all()
    bad = [c.id for c in checkpoints if not verify_checkpoint_signature(session, c)]
    chain = verify_chain(session, list(checkpoints))
    return JournalReport(chain, len(checkpoints), bad, verify_records(session))
