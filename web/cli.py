"""The `archive` command: one click group on Flask's integration, sharing the app factory with the web API."""
from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup

from archive import accounts, documents, filing
from archive.db import require_current_schema, upgrade
from archive.errors import ArchiveError
from archive.hashing import spool_stream
from archive.runtime import Runtime
from audit.log import Actor
from audit.queries import verify_and_record
from config.settings import SettingsError
from retention.policies import record_schedule
from web.app import create_app


def _app_without_schema_check():
    return create_app(check_schema=False)


class ArchiveFailure(click.ClickException):
    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"archive: {self.message}", err=True)


class ArchiveGroup(FlaskGroup):
    """Domain errors become one line on stderr and exit status 1, the CLI face of the API's problem codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArchiveError as error:
            raise ArchiveFailure(f"{error.code}: {error.message}") from None
        except SettingsError as error:
            raise ArchiveFailure(f"configuration: {error}") from None


cli = ArchiveGroup(name="archive", create_app=_app_without_schema_check, add_default_commands=False,
                   add_version_option=False, load_dotenv=False, help="The order-to-cash compliance archive.")


def rt(check_schema: bool = True) -> Runtime:
    runtime: Runtime = current_app.extensions["archive"]
    if check_schema:
        require_current_schema(runtime.engine)
    return runtime


def cli_actor() -> Actor:
    return Actor(name=f"cli:{getpass.getuser()}", role="admin", scopes=frozenset(accounts.SCOPES),
                 user_agent="archive-cli")


def emit(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    upgrade(rt(check_schema=False).engine)
    click.echo("database schema is up to date")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Migrate if needed, create the first administrator on a fresh archive, and serve the web API."""
    from archive.configuration import record_configuration
    from web.server import bootstrap_admin, serve_forever
    runtime = rt(check_schema=False)
    upgrade(runtime.engine)
    record_configuration(runtime, cli_actor())
    record_schedule(runtime, cli_actor())
    bootstrap_admin(runtime, cli_actor())
    serve_forever(runtime.settings, host, port)


@cli.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(list(accounts.ROLE_SCOPES)))
def users_create(username: str, role: str) -> None:
    """Create a user. The password is read from stdin, or generated and printed."""
    given = None if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n") or None
    runtime = rt()
    with runtime.transaction() as session:
        _, password = accounts.create_user(session, runtime.clock, cli_actor(), username, role, given)
    click.echo(f"created user {username} with role {role}", err=True)
    if given is None:
        click.echo(password)


@cli.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--name", required=True)
@click.option("--scopes", required=True, help="comma-separated: file,read,audit,admin")
@click.option("--user", "username", default=None, help="the user the token acts for")
@click.option("--expires-days", type=click.IntRange(min=1), default=None)
def tokens_create(name: str, scopes: str, username: str | None, expires_days: int | None) -> None:
    """Create a token and print it (only the token, on stdout). It cannot be shown again."""
    runtime = rt()
    expires = runtime.clock() + timedelta(days=expires_days) if expires_days else None
    with runtime.transaction() as session:
        text = accounts.create_token(session, runtime.clock, cli_actor(), name,
                                     [s.strip() for s in scopes.split(",") if s.strip()], username, expires)
    click.echo(text)


@cli.command("file")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "doc_type", required=True)
@click.option("--customer", required=True)
@click.option("--order", default=None)
@click.option("--date", "document_date", default=None, help="YYYY-MM-DD")
@click.option("--title", default=None)
@click.option("--reference", default=None, help="external reference")
@click.option("--allow-duplicate", is_flag=True, help="file again even if the order has these bytes already")
def file_command(path: Path, doc_type: str, customer: str, order: str | None, document_date: str | None,
                 title: str | None, reference: str | None, allow_duplicate: bool) -> None:
    """File a document and print its receipt as JSON."""
    from archive.metadata import parse_filing
    runtime = rt()
    metadata = parse_filing({"doc_type": doc_type, "customer": {"number": customer},
                             "order": {"number": order} if order else None, "document_date": document_date,
                             "title": title, "external_reference": reference, "allow_duplicate": allow_duplicate})
    with path.open("rb") as source:
        spool = spool_stream(source, runtime.blobs.spool_dir(), runtime.settings.max_upload_bytes)
    with spool:
        emit(filing.file_document(runtime, spool, metadata, cli_actor(), filename=path.name, channel="cli"))


@cli.command()
@click.argument("document_id")
@click.option("--as", "as_user", default=None, metavar="USERNAME", help="read as this user (restricted documents)")
def show(document_id: str, as_user: str | None) -> None:
    """Print a document's metadata, versions and relations as JSON."""
    from web.cli_records import acting
    runtime, actor, _ = acting(as_user)
    emit(documents.show_document(runtime, actor, document_id))


@cli.command()
@click.argument("document_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", type=click.IntRange(min=1), default=None)
@click.option("--as", "as_user", default=None, metavar="USERNAME", help="read as this user (restricted documents)")
def get(document_id: str, output: Path, version: int | None, as_user: str | None) -> None:
    """Write a document's exact bytes to a file, after checking them against the checksum."""
    from web.cli_records import acting
    runtime, actor, _ = acting(as_user)
    content = documents.open_content(runtime, actor, document_id, version)
    partial = output.with_name(f".{output.name}.partial")
    with content.stream as source, partial.open("wb") as target:
        for chunk in iter(lambda: source.read(256 * 1024), b""):
            target.write(chunk)
    os.replace(partial, output)
    click.echo(f"{content.checksum}  {output}", err=True)


@cli.group()
def audit() -> None:
    """The audit journal."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 naming the first bad seq."""
    runtime = rt()
    report = verify_and_record(runtime, cli_actor())
    emit(report.as_dict())
    if not report.chain.ok:
        click.echo(f"audit chain broken at seq {report.chain.first_bad_seq}: {report.chain.reason}", err=True)
    if report.bad_signatures:
        click.echo(f"checkpoint signatures do not verify: {report.bad_signatures}", err=True)
    if not report.records.ok:
        click.echo(f"{len(report.records.mismatches)} version rows disagree with their filing events", err=True)
    if not report.ok:
        sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a tree head over every audit event so far (RFC 9162 Merkle tree, Ed25519)."""
    from audit.checkpoints import checkpoint_view, create_checkpoint
    checkpoint = create_checkpoint(rt(), cli_actor())
    if checkpoint is None:
        click.echo("no new events since the last checkpoint", err=True)
        return
    emit(checkpoint_view(checkpoint))



from web.cli_processing import reprocess_command, worker_command  # noqa: E402 - they use the helpers above
from web.cli_proof import export_command, fixity, keys, scheduler  # noqa: E402
from web.cli_retention import retention_group  # noqa: E402
from web.cli_search import search_group  # noqa: E402

for command in (keys, export_command, scheduler, fixity, search_group, retention_group, worker_command,
                reprocess_command):
    cli.add_command(command)


def main() -> None:
    cli.main(prog_name="archive")
