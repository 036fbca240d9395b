"""`archive search "…"` runs a query; `archive search reindex|check` maintain the index. Added to `archive` by web/cli.py."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from web.cli import cli_actor, emit, rt


class _QueryOrCommand(AppGroup):
    """`archive search "..."` runs a query; `archive search reindex|check` are subcommands."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands:
            return "query", self.commands["query"], args
        return super().resolve_command(ctx, args)


@click.group("search", cls=_QueryOrCommand)
def search_group() -> None:
    """Search documents, or maintain the search index."""


@search_group.command("query", hidden=True)
@click.argument("q")
@click.option("--sort", default="relevance", type=click.Choice(["relevance", "date_desc", "date_asc"]))
@click.option("--limit", default=20, type=click.IntRange(1, 100))
def search_query(q: str, sort: str, limit: int) -> None:
    from search.service import search
    emit(search(rt(), cli_actor(), q, sort, None, limit))


@search_group.command("reindex")
@click.option("--resume", is_flag=True, help="continue an interrupted rebuild instead of starting over")
def search_reindex(resume: bool) -> None:
    """Rebuild the search index from the database, in batches."""
    from search.indexing import reindex
    runtime = rt()
    with click.progressbar(length=1, label="reindexing", file=sys.stderr) as bar:
        def show(progress):
            bar.length = max(progress.total, 1)
            bar.update(progress.done - bar.pos)
        done = reindex(runtime, resume=resume, progress=show)
    click.echo(f"indexed {done} documents", err=True)


@search_group.command("check")
@click.option("--repair", is_flag=True, help="re-index what is missing or stale, remove what should not be there")
def search_check(repair: bool) -> None:
    """Compare the database with the search index; exit 1 on drift (after repair: 0 if repaired)."""
    from search.indexing import check
    runtime = rt()
    drift = check(runtime, repair=repair)
    emit(drift.as_dict())
    if not drift.clean and not (repair and check(runtime).clean):
        sys.exit(1)
