"""What every service call needs, wired once by config.backends.build_runtime."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.blobstore import BlobStore
from archive.clock import Clock
from archive.group_commit import GroupCommit
from config.settings import Settings

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    clock: Clock
    readers: sessionmaker[Session]
    search_factory: Callable[[], Any] = lambda: None
    tasks: Any = None  # archive.tasks.TaskQueue; told after each commit that work is waiting
    _search: Any = field(default=None, repr=False)
    _group_commit: GroupCommit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._group_commit = GroupCommit(self.transaction)

    @property
    def search(self) -> Any:
        """The SearchIndex, opened on first use (commands that never search never open it)."""
        if self._search is None:
            self._search = self.search_factory()
        return self._search

    def work_committed(self) -> None:
        if self.tasks is not None:
            self.tasks.notify()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.sessions.begin() as session:
            yield session

    def in_shared_transaction(self, work: Callable[[Session], T]) -> T:
        """Runs `work(session)` in a transaction that concurrent callers may share (archive.group_commit): one
        commit for them all. Returns, or raises what `work` raised, once that transaction has ended."""
        return self._group_commit.run(work)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never blocks writers: for long reads (verification, fixity, proofs)."""
        with self.readers() as session:
            yield session

    def close(self) -> None:
        if self.tasks is not None:
            self.tasks.stop()
        if self._search is not None:
            self._search.close()
        self.engine.dispose()
        self.readers.kw["bind"].dispose()
