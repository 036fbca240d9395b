"""`archive retention …` for records managers: disposition batches, legal holds and erasure requests.

These act for a named user: `--as USERNAME` takes that user's role (records_manager for proposing, approving,
executing, releasing; auditors read). Four eyes compare those names, so one operator cannot approve what the same
user proposed. The CLI trusts the operator's claim (who runs it can reach the database anyway) and records it:
the actor is `user:<name>` and the credential `cli:<login>`. Without `--as`, the CLI acts as an administrator.
"""
from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from archive.accounts import ROLE_SCOPES
from archive.errors import InvalidInput
from archive.models import User
from audit.log import Actor

AS_OPTION = click.option("--as", "as_user", default=None, metavar="USERNAME",
                         help="act as this user, with the user's role (records_manager, auditor...)")


def acting(as_user: str | None):
    """(runtime, actor, emit) for a command run on behalf of `as_user`."""
    from web.cli import cli_actor, emit, rt
    runtime = rt()
    if as_user is None:
        return runtime, cli_actor(), emit
    with runtime.reading() as session:
        user = session.scalar(select(User).where(User.username == as_user))
        if user is None or not user.active:
            raise InvalidInput(f"no active user {as_user!r}", code="unknown_user")
        role = user.role
    actor = Actor(name=f"user:{as_user}", role=role, scopes=ROLE_SCOPES[role], credential=f"cli:{getpass.getuser()}",
                  user_agent="archive-cli")
    return runtime, actor, emit


def add_commands(group: click.Group) -> None:
    for command in (propose_command, approve_command, execute_command, batch_command, hold_group, erasure_group,
                    review_group):
        group.add_command(command)


@click.command("propose")
@with_appcontext
@click.option("--document", "documents", multiple=True, help="a due document id (repeat); default: all that is due")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="at most this many documents")
@click.option("--reason", default=None)
@AS_OPTION
def propose_command(documents: tuple[str, ...], limit: int | None, reason: str | None, as_user: str | None) -> None:
    """Propose a disposition batch of due documents (a second records manager approves it)."""
    from retention.disposition import propose
    runtime, actor, emit = acting(as_user)
    body = {"reason": reason} | ({"documents": list(documents)} if documents else {}) | \
        ({"limit": limit} if limit else {})
    emit(propose(runtime, actor, body))


@click.command("approve")
@with_appcontext
@click.argument("batch_id")
@AS_OPTION
def approve_command(batch_id: str, as_user: str | None) -> None:
    """Approve a proposed batch: not by the records manager who proposed it."""
    from retention.disposition import approve
    runtime, actor, emit = acting(as_user)
    emit(approve(runtime, actor, batch_id))


@click.command("execute")
@with_appcontext
@click.argument("batch_id")
@AS_OPTION
def execute_command(batch_id: str, as_user: str | None) -> None:
    """Execute an approved batch (resumable): destroy content, keep tombstones, file the signed certificates."""
    from retention.disposition import execute
    runtime, actor, emit = acting(as_user)
    emit(execute(runtime, actor, batch_id))


@click.command("batch")
@with_appcontext
@click.argument("batch_id")
@AS_OPTION
def batch_command(batch_id: str, as_user: str | None) -> None:
    """Show a disposition batch."""
    from retention.disposition import show_batch
    runtime, actor, emit = acting(as_user)
    emit(show_batch(runtime, actor, batch_id))


@click.group("hold", cls=AppGroup)
def hold_group() -> None:
    """Legal holds: place, release, list, show."""


@hold_group.command("place")
@click.option("--document", "documents", multiple=True, help="a document id (repeat)")
@click.option("--customer", default=None)
@click.option("--order", default=None, help="an order of --customer")
@click.option("--saved-search", default=None, help="a saved search id: matching documents, now and later")
@click.option("--reason", required=True)
@click.option("--case-reference", required=True)
@AS_OPTION
def hold_place(documents: tuple[str, ...], customer: str | None, order: str | None, saved_search: str | None,
               reason: str, case_reference: str, as_user: str | None) -> None:
    """Place a legal hold on documents, a customer, an order or a saved search."""
    from retention.holds import place_hold
    runtime, actor, emit = acting(as_user)
    scope = {k: v for k, v in (("documents", list(documents) or None), ("customer", customer), ("order", order),
                               ("saved_search", saved_search)) if v}
    emit(place_hold(runtime, actor, {"scope": scope, "reason": reason, "case_reference": case_reference}))


@hold_group.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True)
@AS_OPTION
def hold_release(hold_id: str, reason: str, as_user: str | None) -> None:
    """Release a hold (records managers, with a reason)."""
    from retention.holds import release_hold
    runtime, actor, emit = acting(as_user)
    emit(release_hold(runtime, actor, hold_id, reason))


@hold_group.command("list")
@click.option("--active", is_flag=True, help="active holds only")
@AS_OPTION
def hold_list(active: bool, as_user: str | None) -> None:
    """List holds, newest first."""
    from retention.holds import list_holds
    runtime, actor, emit = acting(as_user)
    emit({"items": list_holds(runtime, actor, active)})


@hold_group.command("show")
@click.argument("hold_id")
@AS_OPTION
def hold_show(hold_id: str, as_user: str | None) -> None:
    """Show a hold and the documents it holds."""
    from retention.holds import show_hold
    runtime, actor, emit = acting(as_user)
    emit(show_hold(runtime, actor, hold_id))


@click.group("erasure", cls=AppGroup)
def erasure_group() -> None:
    """GDPR art. 17 erasure requests: record, list, show, report."""


@erasure_group.command("record")
@click.option("--customer", required=True)
@click.option("--requester", required=True, help="who asks (the data subject, or on whose behalf)")
@click.option("--legal-ground", required=True, help="e.g. `GDPR art. 17(1)(a)`")
@click.option("--reference", default=None, help="your case or ticket reference")
@AS_OPTION
def erasure_record(customer: str, requester: str, legal_ground: str, reference: str | None,
                   as_user: str | None) -> None:
    """Record a request: restrict what must be kept, propose a batch for the rest."""
    from retention.erasure import record_request
    runtime, actor, emit = acting(as_user)
    body = {"customer": customer, "requester": requester, "legal_ground": legal_ground} | \
        ({"reference": reference} if reference else {})
    emit(record_request(runtime, actor, body))


@erasure_group.command("list")
@click.option("--customer", default=None)
@AS_OPTION
def erasure_list(customer: str | None, as_user: str | None) -> None:
    """List erasure requests, newest first."""
    from retention.erasure import list_requests
    runtime, actor, emit = acting(as_user)
    emit({"items": list_requests(runtime, actor, customer)})


@erasure_group.command("show")
@click.argument("request_id")
@AS_OPTION
def erasure_show(request_id: str, as_user: str | None) -> None:
    """Show an erasure request."""
    from retention.erasure import show_request
    runtime, actor, emit = acting(as_user)
    emit(show_request(runtime, actor, request_id))


@erasure_group.command("report")
@click.argument("request_id")
@AS_OPTION
def erasure_report(request_id: str, as_user: str | None) -> None:
    """Where each document of the request stands now (restricted, held, proposed, due, disposed)."""
    from retention.erasure import report
    runtime, actor, emit = acting(as_user)
    emit(report(runtime, actor, request_id))


@click.group("review", cls=AppGroup)
def review_group() -> None:
    """Documents whose class says `review` at expiry: list them, keep them longer, or propose them for disposal."""


@review_group.command("list")
@click.option("--limit", default=100, type=click.IntRange(1, 1000))
@click.option("--cursor", default="")
@AS_OPTION
def review_list(limit: int, cursor: str, as_user: str | None) -> None:
    """Documents past retention whose class says review (same as `archive retention due --review`)."""
    from retention.disposition import list_due
    runtime, actor, emit = acting(as_user)
    emit(list_due(runtime, actor, "review", cursor, limit))


@review_group.command("keep")
@click.option("--document", "documents", multiple=True, required=True, help="a document id (repeat)")
@click.option("--until", "keep_until", required=True, help="YYYY-MM-DD: the new retain_until")
@click.option("--reason", required=True)
@AS_OPTION
def review_keep(documents: tuple[str, ...], keep_until: str, reason: str, as_user: str | None) -> None:
    """Keep reviewed documents until a later date (retention only grows)."""
    from retention.review import decide
    runtime, actor, emit = acting(as_user)
    emit(decide(runtime, actor, {"documents": list(documents), "decision": "keep", "keep_until": keep_until,
                                 "reason": reason}))


@review_group.command("dispose")
@click.option("--document", "documents", multiple=True, required=True, help="a document id (repeat)")
@click.option("--reason", required=True)
@AS_OPTION
def review_dispose(documents: tuple[str, ...], reason: str, as_user: str | None) -> None:
    """Propose reviewed documents for disposition (another records manager approves the batch)."""
    from retention.review import decide
    runtime, actor, emit = acting(as_user)
    emit(decide(runtime, actor, {"documents": list(documents), "decision": "dispose", "reason": reason}))
