"""Serving: gunicorn workers, each building its own runtime after the fork."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import click
from gunicorn.app.base import BaseApplication
from sqlalchemy import func, select

from archive import accounts
from archive.models import User
from archive.runtime import Runtime
from audit.log import Actor
from config.settings import Settings

BACKGROUND_NICENESS = 10


def bootstrap_admin(runtime: Runtime, actor: Actor) -> None:
    """On a fresh archive, create the first administrator and say how to get in."""
    with runtime.transaction() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return
        _, password = accounts.create_user(session, runtime.clock, actor, "admin", "admin")
    click.echo("Created the first administrator account:\n"
               f"  username: admin\n  password: {password}\n"
               "Keep this password; it is not shown again. To make an API token:\n"
               "  .venv/bin/archive tokens create --name my-token --scopes file,read,audit --user admin\n"
               "then call the API with `Authorization: Bearer <token>`, e.g.\n"
               "  curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/customers")


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web.app import create_app
        return create_app(self.settings, start_worker=False)  # derived work runs in the background process


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_forever(settings: Settings, host: str, port: int) -> None:
    if settings.cookie_secure == "auto":  # plain http is only acceptable for the embedded server on loopback
        settings = dataclasses.replace(settings, cookie_secure="off" if host in LOOPBACK_HOSTS else "on")
    click.echo(f"Serving the archive on http://{host}:{port} (data in {settings.data_dir})")
    scheduler = _start_background(drain_outbox=not settings.broker_url)
    try:
        _Gunicorn(settings, {"bind": f"{host}:{port}", "workers": web_workers(settings),
                             "threads": settings.web_threads, "worker_class": "gthread", "timeout": 300,
                             "accesslog": None, "errorlog": "-", "loglevel": "warning"}).run()
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(timeout=30)


def web_workers(settings: Settings) -> int:
    """Two processes, on SQLite too: its single writer slot is queued for with an flock (archive.db.WriterSlot), so
    processes wait without polling, and a second process is not held back by the first one's interpreter lock."""
    if settings.web_workers > 0:
        return settings.web_workers
    return 2


def _start_background(drain_outbox: bool) -> subprocess.Popen:
    """Periodic work (and, without a broker, the outbox) runs in a sibling process, not in a thread of the forking
    master. It runs at a lower CPU priority: filers wait for their receipt, derived work can wait a little."""
    command = [sys.executable, "-c", "from web.cli import main; main()", "scheduler"]
    return subprocess.Popen(command + (["--drain-outbox"] if drain_outbox else []),
                            preexec_fn=lambda: os.nice(BACKGROUND_NICENESS))
