"""Appends are buffered per transaction and written at flush: they must still behave like plain row inserts."""
import pytest
from sqlalchemy import func, select

from archive.models import AuditEvent, AuditHead
from audit.log import append, append_many
from audit.verify import verify_chain


def seqs(runtime):
    with runtime.sessions() as session:
        return session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()


def head(runtime):
    with runtime.sessions() as session:
        row = session.get(AuditHead, 1)
        return row.seq, row.hash


def chain_ok(runtime):
    with runtime.sessions() as session:
        return verify_chain(session)


def test_events_are_visible_to_queries_in_their_own_transaction(runtime, system_actor):
    start = head(runtime)[0]
    with runtime.transaction() as session:
        first = append(session, runtime.clock, system_actor, "test.appended", "thing:1")
        second = append(session, runtime.clock, system_actor, "test.appended", "thing:2")
        counted = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq > start))
        stored = session.get(AuditEvent, second.seq)
        assert (first.seq, second.seq) == (start + 1, start + 2)
        assert counted == 2
        assert stored.prev_hash == first.hash and stored.hash == second.hash
    assert head(runtime) == (second.seq, second.hash)
    assert chain_ok(runtime).ok


def test_a_rolled_back_transaction_leaves_nothing_and_the_next_chains_on(runtime, system_actor):
    before = head(runtime)
    with pytest.raises(RuntimeError, match="boom"):
        with runtime.transaction() as session:
            append(session, runtime.clock, system_actor, "test.appended", "thing:lost")
            raise RuntimeError("boom")
    assert head(runtime) == before
    with runtime.transaction() as session:
        kept = append(session, runtime.clock, system_actor, "test.appended", "thing:kept")
    assert kept.seq == before[0] + 1
    assert seqs(runtime)[-1] == kept.seq
    assert chain_ok(runtime).ok


def test_a_rolled_back_savepoint_drops_only_its_events(runtime, system_actor):
    start = head(runtime)[0]
    with runtime.transaction() as session:
        append(session, runtime.clock, system_actor, "test.appended", "thing:outer")
        savepoint = session.begin_nested()
        append(session, runtime.clock, system_actor, "test.appended", "thing:inner")
        savepoint.rollback()
        last = append_many(session, runtime.clock, system_actor,
                           [("test.appended", "thing:after", {}), ("test.appended", "thing:after", {"n": 2})])
    assert last == start + 3
    with runtime.sessions() as session:
        subjects = session.scalars(select(AuditEvent.subject).where(AuditEvent.seq > start)
                                   .order_by(AuditEvent.seq)).all()
    assert subjects == ["thing:outer", "thing:after", "thing:after"]
    assert chain_ok(runtime).ok


def test_a_commit_never_silently_drops_appended_events(runtime, system_actor):
    before = head(runtime)
    with pytest.raises(RuntimeError, match="not written"):
        with runtime.transaction() as session:
            append(session, runtime.clock, system_actor, "test.appended", "thing:expired")
            session.expire_all()  # throws away the head's pending update, so the flush has nothing to do
    assert head(runtime) == before
    assert chain_ok(runtime).ok
