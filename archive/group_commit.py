"""Group commit: concurrent filers share one transaction, one write lock and one sync.

A caller hands its unit of work (a function of the session) to `GroupCommit.run` and waits for its outcome. The
first caller to find no batch in progress leads: it opens a transaction and takes the database's write lock, then
takes the units waiting by then (those that queued while it waited for the lock too), runs each in a savepoint, so
that a unit that fails rolls back alone, and commits them together. Units that arrive meanwhile form the next
batch, led by the first of them once this one is over. Nothing is reported before its commit.

A lone unit runs in a plain transaction, with no savepoint: without concurrency this costs nothing.
"""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy.orm import Session

from audit.log import lock_head

T = TypeVar("T")
MAX_BATCH = 64


class _Unit(Generic[T]):
    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.woken = threading.Event()
        self.leads = False
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def run_alone(self, session: Session) -> None:
        self.result = self.work(session)

    def run_in_savepoint(self, session: Session) -> None:
        try:
            with session.begin_nested():
                self.result = self.work(session)
        except Exception as exc:  # noqa: BLE001 - the unit's own failure, reported to its caller alone
            self.error = exc

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    def __init__(self, transaction: Callable[[], AbstractContextManager[Session]],
                 max_batch: int = MAX_BATCH) -> None:
        self._transaction = transaction
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Unit[Any]] = []
        self._leading = False

    def run(self, work: Callable[[Session], T]) -> T:
        """Runs `work(session)` in a transaction, possibly shared; returns once that transaction has committed."""
        unit: _Unit[T] = _Unit(work)
        with self._lock:
            self._waiting.append(unit)
            unit.leads = not self._leading
            self._leading = True
        if not unit.leads:
            unit.woken.wait()  # until its batch is over, or until it is asked to lead the next one
        if not unit.finished:
            self._lead()
        return unit.outcome()

    def _lead(self) -> None:
        batch: list[_Unit[Any]] = []
        try:
            with self._transaction() as session:
                # Every unit appends to the audit log: the head is locked once for them all. That waits for the
                # database's writer (another process's batch), and units that queue meanwhile join this batch.
                lock_head(session)
                batch = self._take()
                if len(batch) == 1:
                    batch[0].run_alone(session)
                else:
                    for unit in batch:
                        unit.run_in_savepoint(session)
        except BaseException as exc:
            batch = batch or self._take()
            for unit in batch:  # the transaction as a whole failed: nobody's work was committed
                if unit.error is None:
                    unit.error, unit.result = exc, None
            if not isinstance(exc, Exception):
                raise
        finally:
            self._hand_on(batch)

    def _take(self) -> list[_Unit[Any]]:
        with self._lock:
            batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
        return batch

    def _hand_on(self, batch: list[_Unit[Any]]) -> None:
        with self._lock:
            if self._waiting:
                successor = self._waiting[0]
                successor.leads = True
                successor.woken.set()
            else:
                self._leading = False
        for unit in batch:
            unit.finished = True
            unit.woken.set()
