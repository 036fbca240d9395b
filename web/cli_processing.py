"""`archive worker` and `archive reprocess`: running and re-running the processing pipeline."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from archive.reprocessing import request_reprocess, request_reprocess_all
from web.cli import cli_actor, emit, rt


@click.command("worker")
@with_appcontext
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(min=1),
              help="tasks run at once (threads; parsing itself runs in sandboxed child processes)")
@click.option("--poll-seconds", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="how often the outbox is polled, so no work depends on a message arriving")
def worker_command(concurrency: int, poll_seconds: float) -> None:
    """Run the processing worker: Celery on ARCHIVE_BROKER_URL, or the outbox loop on the embedded default."""
    from config.backends import run_worker
    runtime = rt()
    engine = f"celery on {_safe(runtime.settings.broker_url)}" if runtime.settings.broker_url else "outbox loop"
    click.echo(f"archive worker: {engine}", err=True)
    run_worker(runtime, concurrency, poll_seconds)


@click.command("reprocess")
@with_appcontext
@click.argument("document_id", required=False)
@click.option("--all", "everything", is_flag=True, help="every document that is not disposed")
@click.option("--wait", is_flag=True, help="process now, in this command, instead of leaving it to the workers")
def reprocess_command(document_id: str | None, everything: bool, wait: bool) -> None:
    """Queue a document (or --all) for processing again: text, OCR, structured fields, linking, index."""
    if bool(document_id) == everything:
        raise click.UsageError("give one DOCUMENT_ID or --all")
    runtime = rt()
    if everything:
        count = request_reprocess_all(runtime, cli_actor())
    else:
        request_reprocess(runtime, cli_actor(), document_id)
        count = 1
    result = {"queued": count}
    if wait:
        from archive.tasks import drain
        result["ran"] = drain(runtime)
    emit(result)


def _safe(url: str) -> str:
    """The broker URL without a password, for the log line."""
    from urllib.parse import urlparse
    parsed = urlparse(url)
    return url.replace(f":{parsed.password}@", ":***@") if parsed.password else url
