"""Signed checkpoints: RFC 9162 tree heads over the audit journal, and proofs against them.

Leaf i (0-based) is the event with seq i+1; its entry is the event's chain hash as ASCII ("sha256:<hex>"), which
commits to the whole canonical event body. A checkpoint signs, with Ed25519, the canonical JSON statement
{"type", "tree_size", "root_hash", "time", "key_id"}. Each checkpoint keeps the tree's right frontier, so the next
one hashes only the events added since.
"""
from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.clock import isoformat
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import AuditCheckpoint, AuditEvent, SigningKey
from archive.runtime import Runtime
from audit.chain_scan import scan, stitch
from audit.log import GENESIS_HASH, Actor, append, body_of, canonical_json
from audit.merkle import MerkleFrontier, MerkleTree, leaf_hash
from audit.signing import ensure_key, sign, verify
from audit.timestamps import request_timestamp

STATEMENT_TYPE = "archive-checkpoint/v1"
TREE_CACHE_SIZE = 2
_TREES: dict[tuple[str, int], MerkleTree] = {}
_TREES_LOCK = threading.Lock()

def event_leaf(event_hash_text: str) -> bytes:
    return leaf_hash(event_hash_text.encode("ascii"))


def latest(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def create_checkpoint(rt: Runtime, actor: Actor) -> AuditCheckpoint | None:
    """Signs a tree head over every event so far; None when nothing was appended since the last one."""
    with rt.reading() as session:
        previous = latest(session)
        frontier = (MerkleFrontier.from_list(previous.tree_size, previous.frontier) if previous
                    else MerkleFrontier())
        leaves = _new_leaves(session, frontier.size, _hash_at(session, frontier.size) or GENESIS_HASH)
    if not leaves:
        return None
    if frontier.size == 0:
        frontier = MerkleFrontier.from_leaf_hashes(leaves)
    else:
        frontier.extend(leaves)
    with rt.transaction() as session:
        key = ensure_key(session, rt.clock, actor, _key_dir(rt))
        statement = {"type": STATEMENT_TYPE, "tree_size": frontier.size,
                     "root_hash": "sha256:" + frontier.root().hex(), "time": isoformat(rt.clock()),
                     "key_id": key.key_id}
        message = canonical_json(statement)
        checkpoint = AuditCheckpoint(tree_size=frontier.size, root_hash=statement["root_hash"],
                                     created_at=rt.clock(), key_id=key.key_id, statement=message.decode(),
                                     signature=sign(_key_dir(rt), key, message), frontier=frontier.to_list(),
                                     timestamp_token=_timestamp(rt, message))
        session.add(checkpoint)
        session.flush()
        append(session, rt.clock, actor, "audit.checkpointed", f"checkpoint:{checkpoint.id}",
               {"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash, "key_id": key.key_id,
                "timestamped": checkpoint.timestamp_token is not None})
        return checkpoint


def _new_leaves(session: Session, after_seq: int, last_hash: str) -> list[bytes]:
    """Leaf hashes of the events after `after_seq`, refusing to sign over a broken chain."""
    head_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if head_seq <= after_seq:
        return []
    ranges = scan(session.get_bind(), session.connection(), after_seq + 1, head_seq, with_leaves=True,
                  recompute=False)
    _, _, problem = stitch(ranges, last_hash)
    if problem:
        raise Conflict(f"the audit chain is broken at seq {problem[0]}; no checkpoint is signed over it",
                       code="audit_chain_broken", seq=problem[0])
    return [leaf for part in ranges for leaf in part.leaves]


def _hash_at(session: Session, seq: int) -> str | None:
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def tree_for(session: Session, size: int) -> MerkleTree:
    """The tree over the first `size` events. Events never change, so a process keeps the last few it built:
    proofs against the same checkpoint are then answered in well under a millisecond."""
    key = (session.get_bind().url.render_as_string(hide_password=True), size)
    with _TREES_LOCK:
        tree = _TREES.get(key)
    if tree is None:
        rows = session.connection().exec_driver_sql(
            f"SELECT hash FROM audit_events WHERE seq <= {int(size)} ORDER BY seq").fetchall()
        tree = MerkleTree([event_leaf(h) for (h,) in rows])
        with _TREES_LOCK:
            _TREES[key] = tree
            while len(_TREES) > TREE_CACHE_SIZE:
                _TREES.pop(next(iter(_TREES)))
    return tree


def checkpoint_view(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {"id": checkpoint.id, "tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash,
            "created_at": isoformat(checkpoint.created_at), "key_id": checkpoint.key_id,
            "statement": checkpoint.statement, "signature": checkpoint.signature,
            "timestamp_token": checkpoint.timestamp_token}


def find_checkpoint(session: Session, checkpoint_id: int | None, min_size: int = 1) -> AuditCheckpoint:
    if checkpoint_id is not None:
        checkpoint = session.get(AuditCheckpoint, checkpoint_id)
        if checkpoint is None:
            raise NotFound(f"no checkpoint {checkpoint_id}", code="checkpoint_not_found")
        return checkpoint
    checkpoint = latest(session)
    if checkpoint is None or checkpoint.tree_size < min_size:
        raise Conflict(f"no checkpoint covers seq {min_size} yet; run `archive audit checkpoint`",
                       code="not_yet_checkpointed")
    return checkpoint


def inclusion(session: Session, seq: int, checkpoint_id: int | None = None) -> dict[str, Any]:
    """The event, its leaf and the audit path to a signed root: everything to check it offline."""
    event = session.get(AuditEvent, seq)
    if event is None:
        raise NotFound(f"no audit event {seq}", code="event_not_found")
    checkpoint = find_checkpoint(session, checkpoint_id, seq)
    if checkpoint.tree_size < seq:
        raise Conflict(f"checkpoint {checkpoint.id} covers only {checkpoint.tree_size} events",
                       code="not_yet_checkpointed")
    proof = tree_for(session, checkpoint.tree_size).inclusion_proof(seq - 1)
    return {"seq": seq, "leaf_index": seq - 1, "event": body_of(event), "event_hash": event.hash,
            "leaf_hash": event_leaf(event.hash).hex(), "tree_size": checkpoint.tree_size,
            "proof": [p.hex() for p in proof], "checkpoint": checkpoint_view(checkpoint)}


def consistency(session: Session, from_id: int, to_id: int) -> dict[str, Any]:
    old, new = find_checkpoint(session, from_id), find_checkpoint(session, to_id)
    if old.tree_size > new.tree_size:
        raise InvalidInput("`from` must be a checkpoint no larger than `to`", code="invalid_parameter",
                           field="from")
    proof = tree_for(session, new.tree_size).consistency_proof(old.tree_size)
    return {"from": checkpoint_view(old), "to": checkpoint_view(new), "proof": [p.hex() for p in proof]}


def verify_checkpoint_signature(session: Session, checkpoint: AuditCheckpoint) -> bool:
    key = session.get(SigningKey, checkpoint.key_id)
    statement = _parse_statement(checkpoint.statement)
    return (key is not None and verify(key.public_key, checkpoint.statement.encode(), checkpoint.signature)
            and statement.get("tree_size") == checkpoint.tree_size
            and statement.get("root_hash") == checkpoint.root_hash and statement.get("key_id") == key.key_id)


def _parse_statement(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _key_dir(rt: Runtime) -> Path:
    return Path(rt.settings.signing_key_dir)


def _timestamp(rt: Runtime, message: bytes) -> str | None:
    if not rt.settings.tsa_url:
        return None
    return base64.b64encode(request_timestamp(rt.settings.tsa_url, message)).decode()
