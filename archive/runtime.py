"""What every service call needs, wired once by config.backends.build_runtime."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.blobstore import BlobStore
from archive.clock import Clock
from config.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    clock: Clock
    readers: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never blocks writers: for long reads (verification, fixity, proofs)."""
        with self.readers() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
        self.readers.kw["bind"].dispose()
