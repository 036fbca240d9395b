"""Celery on Redis: the task queue at scale (ARCHIVE_BROKER_URL=redis://...).

The outbox stays the source of truth. A message only says "the outbox has work": the task drains due items, claimed
one at a time with a lease (archive.outbox), so a message delivered twice runs nothing twice, and a message lost on
the way is covered by the worker's own poll of the outbox. Messages are JSON (never pickle) and carry no objects.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery

from archive.runtime import Runtime

log = logging.getLogger(__name__)
DRAIN_TASK = "archive.outbox.drain"


def make_celery(broker_url: str) -> Celery:
    app = Celery("archive", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json", event_serializer="json",
        task_ignore_result=True, result_backend=None, worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True, worker_prefetch_multiplier=1, task_acks_late=True,
        broker_transport_options={"socket_connect_timeout": 2, "socket_timeout": 5},
    )
    return app


class CeleryNotifier:
    """What the web and CLI processes hold: after a commit it publishes one wake-up message, and never fails the
    caller (the work is committed in the outbox; the workers' poll finds it if the broker is away)."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self._app: Celery | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Celery:
        with self._lock:
            if self._app is None:
                self._app = make_celery(self.broker_url)
            return self._app

    def notify(self) -> None:
        try:
            self.app.send_task(DRAIN_TASK, args=[], retry=False)
        except Exception as exc:  # noqa: BLE001 - the outbox keeps the work; a worker's poll picks it up
            log.warning("could not publish to the broker (%s); workers will find the work by polling", exc)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        if self._app is not None:
            self._app.close()


def run_worker(rt: Runtime, concurrency: int, poll_seconds: float, loglevel: str = "INFO") -> None:
    """Runs a Celery worker (thread pool: the heavy parsing runs in sandboxed child processes anyway) with a poller
    thread that drains the outbox every `poll_seconds`, so no work depends on a message arriving."""
    from archive.tasks import InProcessQueue, drain
    app = make_celery(rt.settings.broker_url)

    @app.task(name=DRAIN_TASK, ignore_result=True)
    def drain_outbox(*_: Any) -> int:
        return drain(rt)

    poller = InProcessQueue(rt, poll_seconds=poll_seconds)
    poller.start()
    try:
        app.worker_main(["worker", "--pool=threads", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
                         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "archive@%h"])
    finally:
        poller.stop()
