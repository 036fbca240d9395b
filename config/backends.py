"""The one place that picks implementations, by URL scheme, for the four seams."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from archive.blobstore import BlobStore, LocalBlobStore
from archive.clock import Clock, system_clock
from archive.encryption import MasterKeyring, new_master_key_text, parse_keyring
from archive.db import make_engine, make_sessionmaker
from archive.runtime import Runtime
from archive.sealed_store import KeyDirectory, SealedBlobStore
from config.settings import Settings, SettingsError

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, clock: Clock = system_clock) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    reader = engine if engine.dialect.name != "sqlite" else make_engine(settings.database_url, writer=False)
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                   blobs=blob_store_for(settings), clock=clock, readers=make_sessionmaker(reader),
                   search_factory=lambda: search_index_for(settings), tasks=notifier_for(settings))


def search_index_for(settings: Settings):
    parsed = urlparse(settings.search_url)
    if parsed.scheme == "fts5":
        from search.fts5 import Fts5Index
        return Fts5Index(Path(parsed.path))
    if parsed.scheme in ("http", "https"):
        from search.elastic import ElasticIndex
        return ElasticIndex(settings.search_url, index_name=settings.search_index_name)
    raise SettingsError(f"ARCHIVE_SEARCH_URL: no search index for scheme {parsed.scheme!r} "
                        "(supported: fts5://, http(s)://)")


def notifier_for(settings: Settings):
    """With a broker, every process tells Celery after a commit; without one, only a process that drains
    (start_tasks) has a queue to tell."""
    if not settings.broker_url:
        return None
    scheme = urlparse(settings.broker_url).scheme
    if scheme not in ("redis", "rediss"):
        raise SettingsError(f"ARCHIVE_BROKER_URL: no task queue for scheme {scheme!r} (supported: redis://, rediss://)")
    from archive.celery_queue import CeleryNotifier
    return CeleryNotifier(settings.broker_url)


def start_tasks(runtime: Runtime, poll_seconds: float = 2.0) -> None:
    """The embedded default drains the outbox in a worker thread of this process; with a broker, `archive worker`
    (Celery) does, and this process only notifies it."""
    from archive.tasks import InProcessQueue
    if not runtime.settings.broker_url:
        runtime.tasks = InProcessQueue(runtime, poll_seconds=poll_seconds)
        runtime.tasks.start()


def run_worker(runtime: Runtime, concurrency: int, poll_seconds: float) -> None:
    """`archive worker`: a Celery worker on the broker, or, on the embedded default, the outbox loop in the
    foreground."""
    if runtime.settings.broker_url:
        from archive.celery_queue import run_worker as run_celery_worker
        run_celery_worker(runtime, concurrency, poll_seconds)
        return
    start_tasks(runtime, poll_seconds)
    runtime.tasks.wait()


def blob_store_for(settings: Settings) -> BlobStore:
    parsed = urlparse(settings.blob_url)
    if parsed.scheme != "file":
        raise SettingsError(f"ARCHIVE_BLOB_URL: no blob store for scheme {parsed.scheme!r} (supported: file://)")
    local = LocalBlobStore(Path(parsed.path))
    if settings.encryption == "off":
        return local
    return SealedBlobStore(local, KeyDirectory(Path(settings.key_dir)), load_keyring(settings))


def load_keyring(settings: Settings, create: bool = True) -> MasterKeyring:
    """From ARCHIVE_MASTER_KEY, else the key file; a fresh embedded archive gets a generated key file."""
    try:
        if settings.master_key:
            return parse_keyring(settings.master_key)
        path = Path(settings.master_key_file)
        if not path.exists() and create:
            _write_private(path, new_master_key_text() + "\n")
            log.warning("generated a master key at %s: back it up apart from the data; without it nothing "
                        "stored can be read", path)
        return parse_keyring(path.read_text(encoding="ascii"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"master key: {exc}") from exc


def _write_private(path: Path, text: str) -> None:
    """Complete or absent, never empty: written aside, then linked in (the first of racing writers wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".master-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        os.unlink(temp)
