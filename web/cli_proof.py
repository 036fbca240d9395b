"""`archive keys|export|scheduler|fixity`: the proof commands. Part of the one `archive` group (web/cli.py adds them)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from audit.log import Actor
from web.cli import cli_actor, emit, rt  # web/cli.py defines these before importing this module


@click.group(cls=AppGroup)
def keys() -> None:
    """Signing keys for checkpoints, and the master key that wraps data keys."""


@keys.command("generate")
@click.option("--rotate", is_flag=True, help="retire the key in force and sign with a new one from now on")
def keys_generate(rotate: bool) -> None:
    """Generate the checkpoint signing key (Ed25519), or rotate it."""
    from audit.signing import generate_key
    runtime = rt()
    with runtime.transaction() as session:
        key = generate_key(session, runtime.clock, cli_actor(), Path(runtime.settings.signing_key_dir), rotate)
        emit({"key_id": key.key_id, "algorithm": key.algorithm, "public_key": key.public_key})


@keys.command("rotate")
def keys_rotate() -> None:
    """Retire the signing key in force and generate a new one. Old public keys stay published."""
    click.get_current_context().invoke(keys_generate, rotate=True)


@keys.command("rotate-master")
def keys_rotate_master() -> None:
    """Replace the master key in the key file and re-wrap every data key; blobs are not rewritten."""
    from archive.keys import rotate_master_key
    emit(rotate_master_key(rt(), cli_actor()))


@keys.command("prune-master")
def keys_prune_master() -> None:
    """After servers restarted on the rotated key file: re-wrap again and drop every older master key."""
    from archive.keys import prune_master_keys
    emit(prune_master_keys(rt(), cli_actor()))


@click.command("export")
@with_appcontext
@click.option("--customer", default=None)
@click.option("--order", default=None)
@click.option("--query", default=None, help="export what this search finds instead of a customer's documents")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(customer: str | None, order: str | None, query: str | None, output: Path) -> None:
    """Write a signed BagIt evidence package (zip) that verifies offline with its verify_package.py."""
    from audit.export import export_package
    emit(export_package(rt(), cli_actor(), output, customer, order, query))

OUTBOX_POLL_SECONDS = 0.5  # web workers in other processes cannot wake this one; a poll is a cheap query


@click.command()
@with_appcontext
@click.option("--once", is_flag=True, help="run what is due and exit")
@click.option("--poll", default=30.0, show_default=True, help="seconds between looks at what is due")
@click.option("--drain-outbox", is_flag=True,
              help="also run the derived work of the outbox (processing, indexing) in this process")
def scheduler(once: bool, poll: float, drain_outbox: bool) -> None:
    """Run periodic work: signed checkpoints and fixity passes."""
    import signal
    import threading

    from archive.scheduler import run_due, run_forever
    from config.backends import start_tasks
    runtime, actor = rt(), Actor.system("scheduler")
    if once:
        emit({"ran": run_due(runtime, actor)})
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if drain_outbox:
        start_tasks(runtime, poll_seconds=OUTBOX_POLL_SECONDS)
    run_forever(runtime, actor, stop, poll)

@click.group(cls=AppGroup)
def fixity() -> None:
    """Re-hash stored content against its checksums."""


@fixity.command("run")
@click.option("--restart", is_flag=True, help="start a new pass instead of resuming an unfinished one")
@click.option("--rate", "rate_mb", type=click.FloatRange(min=0.1), default=None, help="MB/s at most")
@click.option("--max-blobs", type=click.IntRange(min=1), default=None, help="stop after N blobs (resumable)")
def fixity_run(restart: bool, rate_mb: float | None, max_blobs: int | None) -> None:
    """Exit 0 when everything checked is intact, 1 otherwise; the report is printed as JSON."""
    from archive.fixity import run_fixity
    report = run_fixity(rt(), cli_actor(), resume=not restart, max_blobs=max_blobs,
                        max_bytes_per_second=rate_mb * 1e6 if rate_mb else None)
    emit(report.as_dict())
    if not report.clean:
        click.echo(f"fixity: {len(report.corrupted)} corrupted, {len(report.missing)} missing, "
                   f"{len(report.orphans_quarantined)} orphans quarantined", err=True)
        sys.exit(1)
