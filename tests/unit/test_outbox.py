"""Outbox items are claimed once, retried with backoff when they fail, and never lost."""
from datetime import datetime, timezone

from archive.clock import FrozenClock
from archive.models import OutboxItem
from archive.outbox import MAX_ATTEMPTS, claim, enqueue
from archive.tasks import run_item


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
