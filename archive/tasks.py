"""The task queue seam: what runs the outbox. In-process worker threads by default; Celery on Redis at scale.

Handlers take IDs (from the outbox payload, JSON) and are idempotent. `drain` runs everything due, synchronously:
the CLI and tests use it, and so does each worker.
"""
from __future__ import annotations

import logging
import threading
import traceback
from contextvars import ContextVar
from typing import Any, Callable, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from archive.outbox import Claimed, claim, complete, fail, mark_complete
from archive.runtime import Runtime

log = logging.getLogger(__name__)
Handler = Callable[[Runtime, dict[str, Any]], None]


def handlers() -> dict[str, Handler]:
    from archive.processing import process_document
    from search.indexing import index_task, unindex_task
    return {"document.process": process_document, "search.index": index_task, "search.unindex": unindex_task}


def run_item(rt: Runtime, item: Claimed, table: dict[str, Handler] | None = None) -> bool:
    table = table or handlers()
    completion = _Completion(rt, item.id)
    token = _running.set(completion)
    try:
        handler = table[item.task]
        handler(rt, item.payload)
    except Exception as exc:  # noqa: BLE001 - a failed task is recorded and retried, never lost
        if completion.committed:  # it failed after its work was committed: done, not to be run again
            log.exception("task %s %s failed after completing", item.task, item.id)
            return True
        log.warning("task %s %s failed (attempt %d): %s", item.task, item.id, item.attempts, exc)
        retrying = fail(rt, item, "".join(traceback.format_exception_only(exc)).strip())
        _on_failure(rt, item, str(exc), retrying)
        return False
    finally:
        _running.reset(token)
    if not completion.committed:
        complete(rt, item.id)
    return True


def complete_in(session: Session) -> None:
    """For a handler's last transaction: the running outbox item is marked done in it, one commit fewer."""
    completion = _running.get()
    if completion is not None:
        completion(session)


class _Completion:
    def __init__(self, rt: Runtime, item_id: str) -> None:
        self.rt, self.item_id, self.committed = rt, item_id, False

    def __call__(self, session: Session) -> None:
        mark_complete(session, self.rt.clock, self.item_id)
        event.listen(session, "after_commit", self._committed, once=True)

    def _committed(self, _session: Session) -> None:
        self.committed = True


_running: ContextVar[_Completion | None] = ContextVar("running_outbox_item", default=None)


def drain(rt: Runtime, max_items: int | None = None) -> int:
    """Runs due items until none is left (or `max_items`); returns how many ran."""
    table, ran = handlers(), 0
    while max_items is None or ran < max_items:
        batch = claim(rt, 20 if max_items is None else min(20, max_items - ran), on_claimed=_mark_started)
        if not batch:
            return ran
        for item in batch:
            run_item(rt, item, table)
            ran += 1
    return ran


def _mark_started(session: Session, items: list[Claimed]) -> None:
    from archive.processing import mark_processing
    mark_processing(session, [item.payload["document_id"] for item in items if item.task == "document.process"])


def _on_failure(rt: Runtime, item: Claimed, error: str, retrying: bool) -> None:
    """The document shows it: `queued` with the error while retries remain, `failed` after the last one."""
    if item.task != "document.process":
        return
    from archive.processing import mark_failed, mark_retrying
    try:
        (mark_retrying if retrying else mark_failed)(rt, item.payload["document_id"], error)
    except Exception:  # noqa: BLE001 - the outbox has recorded the failure; the status is best effort
        log.exception("could not record the processing status of %s", item.payload.get("document_id"))


class TaskQueue(Protocol):
    def notify(self) -> None:
        """Work was committed: look at the outbox now rather than at the next poll."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class InProcessQueue:
    """A daemon thread that drains the outbox when notified, and every `poll_seconds` anyway."""

    def __init__(self, rt: Runtime, poll_seconds: float = 2.0) -> None:
        self.rt, self.poll_seconds = rt, poll_seconds
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="archive-outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wait(self) -> None:
        """Blocks until stopped (Ctrl-C stops it): `archive worker` on the embedded default."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=1)
        except KeyboardInterrupt:
            self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.rt)
            except Exception:  # noqa: BLE001 - the worker must outlive a database hiccup
                log.exception("outbox worker failed; retrying")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


class NoQueue:
    """For tests and one-shot commands: nothing runs in the background; call drain() explicitly."""

    def notify(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
