"""Outbox items are claimed once, retried with backoff when they fail, and never lost."""
from datetime import datetime, timezone

from sqlalchemy import func, select

from archive.clock import FrozenClock
from archive.models import OutboxItem
from archive.outbox import MAX_ATTEMPTS, claim, enqueue
from archive.tasks import complete_in, run_item


def test_failures_retry_with_backoff_then_stop(runtime):
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    runtime.clock = clock
    with runtime.transaction() as session:
        enqueue(session, clock, "flaky", {"document_id": "x"})
    calls = []

    def flaky(rt, payload):
        calls.append(payload)
        raise RuntimeError("boom")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        items = claim(runtime)
        assert len(items) == 1 and items[0].attempts == attempt
        assert claim(runtime) == []  # claimed: nobody else gets it
        assert run_item(runtime, items[0], {"flaky": flaky}) is False
        assert claim(runtime) == []  # backing off
        clock.advance(hours=2)
    assert claim(runtime) == [] and len(calls) == MAX_ATTEMPTS
    with runtime.reading() as session:
        item = session.query(OutboxItem).one()
    assert item.done_at is not None and "boom" in item.last_error


def test_an_expired_lease_is_claimed_again(runtime):
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    runtime.clock = clock
    with runtime.transaction() as session:
        enqueue(session, clock, "slow", {})
    assert len(claim(runtime)) == 1
    clock.advance(minutes=11)
    again = claim(runtime)
    assert len(again) == 1 and again[0].attempts == 2
    assert run_item(runtime, again[0], {"slow": lambda rt, payload: None})
    assert claim(runtime) == []


def item_state(runtime):
    with runtime.reading() as session:
        item = session.query(OutboxItem).one()
        return item.done_at, item.last_error


def run_one(runtime, work) -> bool:
    with runtime.transaction() as session:
        enqueue(session, runtime.clock, "work", {})
    return run_item(runtime, claim(runtime)[0], {"work": work})


def test_a_handler_can_end_its_item_in_its_own_last_transaction(runtime):
    seen = []

    def work(rt, payload):
        with rt.transaction() as session:
            complete_in(session)
            seen.append(session.scalar(select(func.count()).select_from(OutboxItem)
                                       .where(OutboxItem.done_at.is_not(None))))
    assert run_one(runtime, work)
    assert seen == [1]  # marked done inside the handler's transaction, not in one of its own afterwards
    assert item_state(runtime)[0] is not None and claim(runtime) == []


def test_an_item_ended_in_a_transaction_that_rolled_back_is_retried(runtime):
    def work(rt, payload):
        with rt.transaction() as session:
            complete_in(session)
            raise RuntimeError("the last step failed")
    assert run_one(runtime, work) is False
    done_at, error = item_state(runtime)
    assert done_at is None and "the last step failed" in error


def test_a_failure_after_the_completing_commit_does_not_run_the_item_again(runtime):
    def work(rt, payload):
        with rt.transaction() as session:
            complete_in(session)
        raise RuntimeError("after the fact")
    assert run_one(runtime, work) is True
    assert item_state(runtime)[0] is not None and claim(runtime) == []
