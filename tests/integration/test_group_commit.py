"""Group commit: concurrent units share one transaction; each succeeds or fails alone; nothing is told early."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from archive.errors import InvalidInput
from archive.group_commit import GroupCommit
from archive.models import AuditEvent, Customer, Document, Order
from audit.log import append, lock_head
from audit.verify import verify_chain
from tests.fixtures.samples import metadata, pdf_bytes, upload


def count_commits(runtime):
    commits = []
    event.listen(runtime.engine, "commit", lambda conn: commits.append(1))
    return commits


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def audit_actions(runtime, subject_prefix):
    with runtime.sessions() as session:
        return session.scalars(select(AuditEvent.action).where(AuditEvent.subject.like(subject_prefix + "%"))
                               .order_by(AuditEvent.seq)).all()


def test_units_that_wait_share_one_transaction_and_one_failure_stays_alone(runtime, system_actor):
    group = GroupCommit(runtime.transaction)
    leader_may_finish, leader_started = threading.Event(), threading.Event()
    commits = count_commits(runtime)

    def leader(session):
        leader_started.set()  # its batch is taken: whoever comes now waits for the next one
        append(session, runtime.clock, system_actor, "test.unit", "unit:leader")
        leader_may_finish.wait(10)
        return "leader"

    def follower(name):
        def work(session):
            append(session, runtime.clock, system_actor, "test.unit", f"unit:{name}")
            if name == "bad":
                raise InvalidInput("this unit fails", code="unit_failed")
            return name
        return work

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.run, leader)
        assert leader_started.wait(10)
        rest = {name: pool.submit(group.run, follower(name)) for name in ("a", "bad", "b")}
        wait_until(lambda: len(group._waiting) == 3)  # they queue behind the leader's open transaction
        assert not any(f.done() for f in rest.values())
        leader_may_finish.set()
        assert first.result(10) == "leader"
        assert rest["a"].result(10) == "a" and rest["b"].result(10) == "b"
        with pytest.raises(InvalidInput):
            rest["bad"].result(10)

    assert len(commits) == 2  # the leader alone, then the three followers together
    assert sorted(audit_actions(runtime, "unit:")) == ["test.unit"] * 3
    with runtime.sessions() as session:
        subjects = session.scalars(select(AuditEvent.subject).where(AuditEvent.subject.like("unit:%"))).all()
        assert sorted(subjects) == ["unit:a", "unit:b", "unit:leader"]
        assert verify_chain(session).ok


def test_units_that_queue_while_the_leader_waits_for_the_write_lock_join_its_batch(runtime, system_actor):
    group = GroupCommit(runtime.transaction)
    holding, release = threading.Event(), threading.Event()

    def other_writer():  # another writer (on SQLite, another process's batch) holds the lock for a while
        with runtime.transaction() as session:
            lock_head(session)
            holding.set()
            release.wait(10)

    def unit(name):
        def work(session):
            append(session, runtime.clock, system_actor, "test.unit", f"unit:{name}")
            return name
        return work

    with ThreadPoolExecutor(4) as pool:
        writer = pool.submit(other_writer)
        assert holding.wait(10)
        commits = count_commits(runtime)
        futures = [pool.submit(group.run, unit(name)) for name in ("first", "second", "third")]
        wait_until(lambda: len(group._waiting) == 3)  # the leader waits for the lock with its own unit untaken
        release.set()
        writer.result(10)
        assert [f.result(10) for f in futures] == ["first", "second", "third"]
    assert len(commits) == 2  # the other writer's, then one for all three units
    with runtime.sessions() as session:
        assert verify_chain(session).ok


def test_a_failed_commit_fails_every_unit_of_the_batch(runtime, system_actor):
    group = GroupCommit(runtime.transaction)
    release, leader_started = threading.Event(), threading.Event()

    def leader(session):
        leader_started.set()
        release.wait(10)
        return "leader"

    def follower(session):
        append(session, runtime.clock, system_actor, "test.unit", "unit:lost")
        session.info["refuse_commit"] = True
        return "follower"

    def refuse_commit(session):
        if session.info.pop("refuse_commit", False):
            raise RuntimeError("disk full")

    event.listen(runtime.sessions, "before_commit", refuse_commit)
    try:
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(group.run, leader)
            assert leader_started.wait(10)
            followers = [pool.submit(group.run, follower) for _ in range(2)]
            wait_until(lambda: len(group._waiting) == 2)
            release.set()
            assert first.result(10) == "leader"
            for future in followers:
                with pytest.raises(RuntimeError, match="disk full"):
                    future.result(10)
    finally:
        event.remove(runtime.sessions, "before_commit", refuse_commit)
    assert audit_actions(runtime, "unit:lost") == []
    with runtime.sessions() as session:
        assert verify_chain(session).ok


def test_leadership_passes_on_so_no_unit_waits_for_ever(runtime):
    group = GroupCommit(runtime.transaction, max_batch=2)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: group.run(lambda session: n), range(40), timeout=30))
    assert results == list(range(40))
    assert not group._leading and not group._waiting


def test_concurrent_filers_of_a_new_customer_make_it_once(client, app, auth, runtime):
    documents = [pdf_bytes(f"Invoice {n}", 2000) for n in range(24)]
    meta = metadata(customer={"number": "C-NEW", "name": "New SA"}, order={"number": "PO-NEW"})
    start = threading.Barrier(8)

    def file(index):
        with app.test_client() as own_client:
            if index < 8:  # the first eight start together
                start.wait(10)
            return upload(own_client, auth, documents[index], meta)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(file, range(len(documents))))
    assert [r.status_code for r in responses] == [201] * len(documents), [r.get_json() for r in responses]
    receipts = [r.get_json() for r in responses]
    assert len({r["id"] for r in receipts}) == len(documents)
    assert len({r["audit_seq"] for r in receipts}) == len(documents)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer).where(Customer.number == "C-NEW")) == 1
        assert session.scalar(select(func.count()).select_from(Order).where(Order.number == "PO-NEW")) == 1
        assert session.scalar(select(func.count()).select_from(Document)) == len(documents)
        assert verify_chain(session).ok
    assert audit_actions(runtime, "customer:C-NEW") == ["customer.created"]
    assert audit_actions(runtime, "order:C-NEW/PO-NEW") == ["order.created"]
    for receipt in receipts:
        assert client.get(f"/api/v1/documents/{receipt['id']}", headers=auth).status_code == 200
