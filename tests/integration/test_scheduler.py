"""Periodic checkpoints and fixity, driven by an injected clock."""
from datetime import datetime, timezone

from sqlalchemy import func, select

from archive.clock import FrozenClock
from archive.models import AuditCheckpoint, FixityRun
from archive.scheduler import run_due
from audit.log import append


def test_jobs_run_when_due_and_not_before(runtime, system_actor):
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    runtime.clock = clock
    with runtime.transaction() as session:
        append(session, clock, system_actor, "test.appended")
    assert sorted(run_due(runtime, system_actor)) == ["audit.checkpoint", "fixity"]
    assert run_due(runtime, system_actor) == []
    clock.advance(minutes=59)
    assert run_due(runtime, system_actor) == []
    clock.advance(minutes=1)
    assert run_due(runtime, system_actor) == ["audit.checkpoint"]
    clock.advance(days=1)
    assert sorted(run_due(runtime, system_actor)) == ["audit.checkpoint", "fixity"]
    with runtime.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 3
        assert session.scalar(select(func.count()).select_from(FixityRun)) == 2


def test_cli_scheduler_once(cli):
    result = cli("scheduler", "--once")
    assert result.exit_code == 0 and "audit.checkpoint" in result.output


def test_configuration_changes_are_audited(runtime, system_actor):
    import dataclasses

    from archive.configuration import record_configuration
    from archive.models import AuditEvent
    assert record_configuration(runtime, system_actor) == "config.initialised"
    assert record_configuration(runtime, system_actor) is None
    runtime.settings = dataclasses.replace(runtime.settings, max_upload_bytes=5, master_key="c2VjcmV0")
    assert record_configuration(runtime, system_actor) == "config.changed"
    with runtime.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "config.changed")).one()
    assert event.details["changes"] == {"max_upload_bytes": {"old": "2097152", "new": "5"}}
    assert "c2VjcmV0" not in event.details_json
