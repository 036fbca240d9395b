"""Signed checkpoints, inclusion and consistency proofs, and the tampering they expose."""
import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text

from archive.models import AuditEvent
from audit.checkpoints import create_checkpoint
from audit.log import append, canonical_json, event_hash, model_hash
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.verify import verify_chain, verify_journal
from tests.fixtures.samples import metadata, pdf_bytes, upload

GUARDS = {
    "sqlite": ["DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete",
               "DROP TRIGGER audit_checkpoints_no_update", "DROP TRIGGER document_versions_frozen"],
    "postgresql": ["DROP TRIGGER audit_events_append_only ON audit_events",
                   "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints",
                   "DROP TRIGGER document_versions_frozen ON document_versions"],
}


def fill(runtime, actor, n):
    with runtime.transaction() as session:
        for i in range(n):
            append(session, runtime.clock, actor, "test.appended", f"thing:{i}", {"i": i})


def drop_guards(runtime):
    with runtime.engine.begin() as conn:
        for statement in GUARDS[conn.dialect.name]:
            conn.execute(text(statement))


def journal(runtime):
    with runtime.reading() as session:
        return verify_journal(session)


def test_proofs_verify_against_the_signed_root(client, auth, runtime, system_actor):
    fill(runtime, system_actor, 7)
    first = create_checkpoint(runtime, system_actor)
    fill(runtime, system_actor, 12)
    second = create_checkpoint(runtime, system_actor)
    keys = {k["key_id"]: k for k in client.get("/api/v1/audit/keys").json["keys"]}

    proof = client.get("/api/v1/audit/events/5/proof", headers=auth).json
    statement = json.loads(proof["checkpoint"]["statement"])
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[statement["key_id"]]["public_key"]))
    public.verify(base64.b64decode(proof["checkpoint"]["signature"]), proof["checkpoint"]["statement"].encode())
    assert event_hash(proof["event"]) == proof["event_hash"]
    leaf = leaf_hash(proof["event_hash"].encode())
    root = bytes.fromhex(statement["root_hash"].split(":")[1])
    assert verify_inclusion(leaf, 4, statement["tree_size"], [bytes.fromhex(p) for p in proof["proof"]], root)
    assert not verify_inclusion(leaf, 5, statement["tree_size"], [bytes.fromhex(p) for p in proof["proof"]], root)

    consistency = client.get(f"/api/v1/audit/checkpoints/consistency?from={first.id}&to={second.id}",
                             headers=auth).json
    roots = [bytes.fromhex(c["root_hash"].split(":")[1]) for c in (consistency["from"], consistency["to"])]
    assert verify_consistency(first.tree_size, second.tree_size, *roots,
                              [bytes.fromhex(p) for p in consistency["proof"]])
    assert journal(runtime).ok


def test_proof_errors(client, auth, runtime, system_actor):
    fill(runtime, system_actor, 3)
    assert client.get("/api/v1/audit/events/2/proof", headers=auth).json["code"] == "not_yet_checkpointed"
    create_checkpoint(runtime, system_actor)
    assert client.get("/api/v1/audit/events/999/proof", headers=auth).status_code == 404
    bad = client.get("/api/v1/audit/checkpoints/consistency?from=1", headers=auth)
    assert bad.status_code == 400 and bad.json["code"] == "missing_parameter"


def test_consistent_rewrite_of_history_fails_against_the_checkpoint(runtime, system_actor):
    fill(runtime, system_actor, 10)
    create_checkpoint(runtime, system_actor)
    drop_guards(runtime)
    _rewrite_chain_from(runtime, 4, {"i": 400})
    with runtime.reading() as session:
        assert verify_chain(session).ok  # the forger recomputed every hash...
    report = journal(runtime)
    assert not report.ok and report.chain.first_bad_seq == 1  # ...but the signed root no longer matches
    assert "checkpoint" in report.chain.reason


def test_truncation_with_a_forged_head_fails_against_the_checkpoint(runtime, system_actor):
    fill(runtime, system_actor, 10)
    create_checkpoint(runtime, system_actor)
    drop_guards(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 6"))
        last = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 6")).scalar()
        conn.execute(text("UPDATE audit_head SET seq = 6, hash = :h"), {"h": last})
    report = journal(runtime)
    assert not report.ok and report.chain.first_bad_seq == 7


def test_checkpoint_resigned_with_another_key_fails(runtime, system_actor):
    fill(runtime, system_actor, 4)
    checkpoint = create_checkpoint(runtime, system_actor)
    drop_guards(runtime)
    forged = base64.b64encode(Ed25519PrivateKey.generate().sign(checkpoint.statement.encode())).decode()
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET signature = :s"), {"s": forged})
    report = journal(runtime)
    assert not report.ok and report.bad_signatures == [checkpoint.id]


def test_changed_checksum_column_is_caught_by_its_filing_event(client, auth, runtime):
    receipt = upload(client, auth, pdf_bytes(), metadata()).json
    drop_guards(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE document_versions SET checksum = checksum"))  # guard really dropped
        conn.execute(text("INSERT INTO blobs (checksum, size, storage_key, created_at) "
                          "SELECT 'sha256:' || :h, size, storage_key, created_at FROM blobs"), {"h": "f" * 64})
        conn.execute(text("UPDATE document_versions SET checksum = :c"), {"c": "sha256:" + "f" * 64})
    report = journal(runtime)
    assert not report.ok and not report.records.ok
    assert report.records.mismatches[0]["document_id"] == receipt["id"]


def test_checkpoints_are_append_only(runtime, system_actor):
    fill(runtime, system_actor, 2)
    create_checkpoint(runtime, system_actor)
    with pytest.raises(Exception, match="append-only"):
        with runtime.engine.begin() as conn:
            conn.execute(text("UPDATE audit_checkpoints SET root_hash = 'x'"))


def _rewrite_chain_from(runtime, seq, details):
    with runtime.sessions.begin() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        prev = None
        for event in events:
            if prev is not None:
                event.prev_hash = prev
            if event.seq == seq:
                event.details_json = canonical_json(details).decode()
            if event.seq >= seq:
                event.hash = model_hash(event)
            prev = event.hash
        session.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def parallel_scans(monkeypatch):
    import audit.chain_scan
    monkeypatch.setattr(audit.chain_scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(audit.chain_scan.os, "cpu_count", lambda: 2)


def test_a_checkpoint_scanned_in_parallel_ranges_signs_the_same_root(runtime, system_actor, monkeypatch):
    from audit.merkle import root_from_leaf_hashes
    fill(runtime, system_actor, 21)
    with runtime.reading() as session:
        hashes = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.seq)).all()
    parallel_scans(monkeypatch)
    checkpoint = create_checkpoint(runtime, system_actor)
    assert checkpoint.tree_size == len(hashes)
    assert checkpoint.root_hash == "sha256:" + root_from_leaf_hashes([leaf_hash(h.encode()) for h in hashes]).hex()


def test_a_checkpoint_refuses_a_link_broken_between_parallel_ranges(runtime, system_actor, monkeypatch):
    from archive.errors import Conflict
    fill(runtime, system_actor, 22)
    drop_guards(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET prev_hash = 'sha256:00' WHERE seq = 12"))
    parallel_scans(monkeypatch)
    with pytest.raises(Conflict, match="seq 12"):
        create_checkpoint(runtime, system_actor)
