"""The journal is append-only in the database and tamper-evident when someone gets around that."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from audit.log import append
from audit.verify import verify_chain

SQLITE_TRIGGERS = ["audit_events_no_update", "audit_events_no_delete"]


def fill(runtime, actor, n=10):
    with runtime.transaction() as session:
        for i in range(n):
            append(session, runtime.clock, actor, "test.appended", f"thing:{i}", {"i": i, "note": "é\r\n"})


def drop_guards(runtime):
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
            conn.execute(text("DROP TRIGGER audit_events_no_truncate ON audit_events"))
        else:
            for name in SQLITE_TRIGGERS:
                conn.execute(text(f"DROP TRIGGER {name}"))


def raw(runtime, sql):
    with runtime.engine.begin() as conn:
        conn.execute(text(sql))


def report(runtime):
    with runtime.sessions() as session:
        return verify_chain(session)


@pytest.mark.parametrize("sql", ["UPDATE audit_events SET action = 'x' WHERE seq = 2",
                                 "DELETE FROM audit_events WHERE seq = 2"])
def test_database_refuses_update_and_delete(runtime, system_actor, sql):
    fill(runtime, system_actor)
    with pytest.raises(DatabaseError, match="append-only"):
        raw(runtime, sql)
    assert report(runtime).ok


def test_postgres_refuses_truncate(runtime, system_actor):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    fill(runtime, system_actor)
    with pytest.raises(DatabaseError, match="append-only"):
        raw(runtime, "TRUNCATE audit_events")


def test_version_content_columns_are_frozen(client, auth, runtime):
    from tests.fixtures.samples import metadata, pdf_bytes, upload
    upload(client, auth, pdf_bytes(), metadata())
    with pytest.raises(DatabaseError, match="immutable"):
        raw(runtime, "UPDATE document_versions SET checksum = 'sha256:00'")
    with pytest.raises(DatabaseError, match="immutable"):
        raw(runtime, "UPDATE blobs SET size = 1")


def test_intact_chain_verifies(runtime, system_actor):
    fill(runtime, system_actor)
    result = report(runtime)
    assert result.ok and result.events == 10 and result.first_bad_seq is None


@pytest.mark.parametrize("tamper, bad_seq", [
    ("UPDATE audit_events SET details = '{\"i\": 99, \"note\": \"x\"}' WHERE seq = 4", 4),
    ("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 7", 7),
    ("DELETE FROM audit_events WHERE seq = 5", 5),
    ("DELETE FROM audit_events WHERE seq >= 9", 9),
    ("UPDATE audit_events SET seq = seq + 100 WHERE seq = 3", 3),
])
def test_tampering_names_the_first_bad_seq(runtime, system_actor, tamper, bad_seq):
    fill(runtime, system_actor)
    drop_guards(runtime)
    raw(runtime, tamper)
    result = report(runtime)
    assert not result.ok
    assert result.first_bad_seq == bad_seq, result


def test_swapping_two_events_is_detected(runtime, system_actor):
    fill(runtime, system_actor)
    drop_guards(runtime)
    raw(runtime, "UPDATE audit_events SET seq = -1 WHERE seq = 5")
    raw(runtime, "UPDATE audit_events SET seq = 5 WHERE seq = 6")
    raw(runtime, "UPDATE audit_events SET seq = 6 WHERE seq = -1")
    result = report(runtime)
    assert not result.ok and result.first_bad_seq == 5


def test_cli_audit_verify_exits_1_naming_the_seq(runtime, system_actor, cli):
    fill(runtime, system_actor)
    assert cli("audit", "verify").exit_code == 0
    drop_guards(runtime)
    raw(runtime, "UPDATE audit_events SET subject = 'thing:forged' WHERE seq = 6")
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "seq 6" in result.output


@pytest.mark.parametrize("tamper, bad_seq", [
    (None, None),
    ("UPDATE audit_events SET details = '{\"i\": 0}' WHERE seq = 12", 12),  # first event of the second range
    ("UPDATE audit_events SET prev_hash = 'sha256:00' WHERE seq = 12", 12),
    ("DELETE FROM audit_events WHERE seq = 11", 11),  # last event of the first range
])
def test_parallel_ranges_are_stitched_exactly(runtime, system_actor, monkeypatch, tamper, bad_seq):
    import audit.chain_scan
    monkeypatch.setattr(audit.chain_scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(audit.chain_scan.os, "cpu_count", lambda: 2)
    fill(runtime, system_actor, 22)
    if tamper:
        drop_guards(runtime)
        raw(runtime, tamper)
    result = report(runtime)
    assert result.ok is (tamper is None)
    assert result.first_bad_seq == bad_seq
