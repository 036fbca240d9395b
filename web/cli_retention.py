"""`archive retention …`: the schedule in force, trigger events, recomputation and what is due.

Part of the one `archive` group (web/cli.py adds it). Disposition batches, legal holds and erasure requests,
which act for a named records manager (`--as`), live in web/cli_records.py.
"""
from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup


def _tools():
    from web.cli import cli_actor, emit, rt
    return rt(), cli_actor(), emit


@click.group("retention", cls=AppGroup)
def retention_group() -> None:
    """Retention schedule, trigger events, recomputation and documents due for disposition."""


@retention_group.command("schedule")
def schedule_command() -> None:
    """Print the schedule in force (ARCHIVE_RETENTION_SCHEDULE) and record it if it changed."""
    from retention.policies import record_schedule, schedule_of
    runtime, actor, emit = _tools()
    changed = record_schedule(runtime, actor)
    schedule = schedule_of(runtime)
    emit({"name": schedule.name, "title": schedule.title, "hash": schedule.content_hash,
          "recorded_now": changed, "classes": schedule.table()})


@retention_group.command("recompute")
def recompute_command() -> None:
    """Re-apply the schedule to every active document. Retention only grows: shortenings are refused."""
    from retention.policies import recompute_all
    runtime, actor, emit = _tools()
    emit(recompute_all(runtime, actor))


@retention_group.command("event")
@click.argument("name")
@click.option("--order", "order_ref", default=None, help="CUSTOMER/ORDER")
@click.option("--customer", default=None)
@click.option("--document", "document_id", default=None)
@click.option("--date", "occurred_on", default=None, help="YYYY-MM-DD, default today")
def event_command(name: str, order_ref: str | None, customer: str | None, document_id: str | None,
                  occurred_on: str | None) -> None:
    """Record a trigger: `closed --order C/O`, `contract_ended --document ID`, or a custom event name."""
    from retention.events import record_named
    runtime, actor, emit = _tools()
    try:
        day = date.fromisoformat(occurred_on) if occurred_on else None
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--date") from None
    emit(record_named(runtime, actor, name, order_ref, customer, document_id, day))


@retention_group.command("due")
@click.option("--review", is_flag=True, help="documents whose class says `review` at expiry instead")
@click.option("--limit", default=100, type=click.IntRange(1, 1000))
@click.option("--cursor", default="")
def due_command(review: bool, limit: int, cursor: str) -> None:
    """List documents past retain_until, not held, whose class says destroy (or review)."""
    from retention.disposition import list_due
    runtime, actor, emit = _tools()
    emit(list_due(runtime, actor, "review" if review else "destroy", cursor, limit))


from web.cli_records import add_commands  # noqa: E402 - the records-manager commands join this group

add_commands(retention_group)
